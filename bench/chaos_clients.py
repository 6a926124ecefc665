"""The HTTP side of the chaos run: well-behaved scrapers and hostile clients, loopback only."""

from __future__ import annotations

import contextlib
import http.client
import random
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

# What hostile clients send, and the status each must get (None: nothing is owed; the
# connection must simply be closed by the read timeout or the connection cap).
PROBES: tuple[tuple[str, bytes, int | None], ...] = (
    ("silent", b"", None),
    ("partial head", b"GET /metrics HTTP/1.1\r\nHost: x\r\n", None),
    ("slow head", b"", None),  # dripped a byte at a time, see Hostile.drip
    ("request line too long", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", 414),
    ("header too large", b"GET / HTTP/1.1\r\nX-A: " + b"b" * 20000 + b"\r\n\r\n", 431),
    ("too many headers", b"GET / HTTP/1.1\r\n" + b"X-B: c\r\n" * 150 + b"\r\n", 431),
    ("body too large", b"POST /-/reload HTTP/1.1\r\nContent-Length: 10000000\r\n\r\n", 413),
    ("garbage", b"\x16\x03\x01\x02\x00\x01\x00\r\n\r\n", 400),
    ("GET /-/reload", b"GET /-/reload HTTP/1.1\r\nHost: x\r\n\r\n", 405),
)
SLOW_HEAD = b"GET /metrics HTTP/1.1\r\nHost: x\r\nUser-Agent: slow\r\n\r\n"


@dataclass
class ScrapeStats:
    """What the well-behaved scrapers saw."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    retried: int = 0  # keep-alive connection found closed, the retry on a new one answered
    failed: list[str] = field(default_factory=list)

    def record(self, status: int, latency: float, retried: bool) -> None:
        with self.lock:
            self.statuses[status] += 1
            self.retried += retried
            if status == 200:
                self.latencies.append(latency)


def scraper(port: int, stop: threading.Event, stats: ScrapeStats, seed: int) -> None:
    """Scrape /metrics (sometimes /-/healthy) with a pause of up to a second, like Prometheus."""
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while not stop.wait(rng.uniform(0, 1.0)):
        path = "/-/healthy" if rng.random() < 0.1 else "/metrics"
        began = time.perf_counter()
        for attempt in (0, 1):  # as Go's and Python's clients do on a stale keep-alive connection
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as err:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                if attempt:
                    with stats.lock:
                        stats.failed.append(f"{path}: {type(err).__name__}")
                continue
            if response.status == 200 and path == "/metrics" and b"build_info" not in body:
                with stats.lock:
                    stats.failed.append("/metrics: incomplete body")
            stats.record(response.status, time.perf_counter() - began, attempt == 1)
            if response.will_close:
                conn.close()
            break
    conn.close()


@dataclass
class Hostile:
    """Bursts of silent, slow and malformed connections, bounded in number and time."""

    port: int
    rng: random.Random
    max_open: int
    opened: int = 0
    answers: Counter[str] = field(default_factory=Counter)  # probe: right status
    wrong: list[str] = field(default_factory=list)
    unanswered: int = 0  # a probe owed a status whose connection was cut first

    def run(self, stop: threading.Event, gap: tuple[float, float] = (2.0, 12.0)) -> None:
        while not stop.wait(self.rng.uniform(*gap)):
            self.burst(stop)

    def burst(self, stop: threading.Event) -> None:
        count = self.rng.randint(self.max_open // 10, self.max_open)
        held: list[tuple[socket.socket, str, int | None]] = []
        try:
            for _ in range(count):
                name, payload, expected = self.rng.choice(PROBES)
                try:
                    sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
                    sock.sendall(payload)
                except OSError:
                    continue  # refused or reset at once: the cap at work
                self.opened += 1
                held.append((sock, name, expected))
            self.drip([s for s, name, _ in held if name == "slow head"], stop)
            for sock, name, expected in held:
                if expected is not None:
                    self.check(sock, name, expected)
        finally:
            for sock, _, _ in held:
                sock.close()

    def drip(self, socks: list[socket.socket], stop: threading.Event) -> None:
        """Send the slow ones their head a byte every 0.5 s, for a random hold time."""
        deadline = time.monotonic() + self.rng.uniform(1.0, 8.0)
        index = 0
        while time.monotonic() < deadline and not stop.wait(0.5) and index < len(SLOW_HEAD):
            for sock in socks:
                # OSError: closed by the server, the read timeout at work.
                with contextlib.suppress(OSError):
                    sock.send(SLOW_HEAD[index : index + 1])
            index += 1

    def check(self, sock: socket.socket, name: str, expected: int) -> None:
        try:
            sock.settimeout(5)
            line = sock.recv(64).split(b"\r\n", 1)[0]
        except OSError:
            line = b""
        if not line:
            self.unanswered += 1
            return
        parts = line.split()
        if len(parts) >= 2 and parts[1] == str(expected).encode():
            self.answers[name] += 1
        else:
            self.wrong.append(f"{name}: {line[:60]!r}")
