"""Thousands of silent and slow connections against a real exporter process (loopback only).

While they are open, a normal scrape still answers within a second, and threads, file
descriptors and memory stay under ceilings set by --web.max-connections; once they
are gone, the process is back to its idle baseline within the read timeout.
"""

from __future__ import annotations

import contextlib
import resource
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_cli import free_port
from tests.faultproxy import wait_for

CLIENTS = 3000
MAX_CONNECTIONS = 512
HEADROOM = MAX_CONNECTIONS // 8  # closed connections whose threads are still finishing
READ_TIMEOUT = 1.0
RSS_CEILING_MIB = 120  # over the idle process: 512 threads' stacks and buffers


def status(pid: int) -> tuple[int, int, float]:
    """Threads, file descriptors and resident MiB of the process."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    fds = len(list(Path(f"/proc/{pid}/fd").iterdir()))
    return int(fields["Threads"]), fds, int(fields["VmRSS"].split()[0]) / 1024


@pytest.fixture
def exporter() -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "exporter",
            "--demo",
            "--demo.poll-interval",
            "1s",
            "--web.listen-address",
            f"127.0.0.1:{port}",
            "--web.read-timeout",
            f"{READ_TIMEOUT:g}s",
            "--web.max-connections",
            str(MAX_CONNECTIONS),
            "--log.level",
            "warn",
        ],
        stderr=subprocess.PIPE,
    )
    # Read as it comes: a full pipe would block the exporter's logging, and with it the
    # exporter; and a start that never gets ready says why.
    log: list[bytes] = []
    assert proc.stderr is not None
    reader = threading.Thread(target=lambda: log.extend(proc.stderr), daemon=True)  # type: ignore[arg-type]
    reader.start()
    try:
        try:
            wait_for(lambda: scrape(port, "/-/ready", timeout=1) == 200, timeout=60)
        except AssertionError:
            pytest.fail(f"not ready in 60 s: {b''.join(log).decode()[-3000:]}")
        yield proc, port
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        reader.join(5)
        proc.stderr.close()
        err = b"".join(log)
        assert b"Traceback" not in err, err.decode()[-2000:]


def scrape(port: int, path: str = "/metrics", timeout: float = 5) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            r.read()
            return int(r.status)
    except OSError:
        return 0


def enough_descriptors(count: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count + 500:
        wanted = count + 500 if hard == resource.RLIM_INFINITY else min(hard, count + 500)
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= count + 500


def open_hostile(port: int, count: int) -> list[socket.socket]:
    """A third silent, a third with half a request line, a third with a head cut short."""
    payloads = (b"", b"GET /metr", b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
    opened = []
    for index in range(count):
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(payloads[index % 3])
        except OSError:
            continue  # closed by the server already: that is the cap at work
        opened.append(sock)
    return opened


def drip(socks: list[socket.socket]) -> None:
    """One more byte on every connection: each byte alone comes well within the timeout."""
    for sock in socks:
        with contextlib.suppress(OSError):  # closed by the server already
            sock.send(b"X")


def test_thousands_of_silent_and_slow_clients(
    exporter: tuple[subprocess.Popen[bytes], int],
) -> None:
    proc, port = exporter
    enough_descriptors(CLIENTS)
    for _ in range(3):  # warm: pools and caches the first scrapes create
        assert scrape(port) == 200
    time.sleep(1.5)
    idle_threads, idle_fds, idle_rss = status(proc.pid)
    socks = open_hostile(port, CLIENTS)
    try:
        peak = status(proc.pid)
        for _ in range(3):
            drip(socks)
            began = time.monotonic()
            assert scrape(port) == 200
            assert time.monotonic() - began < 1.0
            now = status(proc.pid)
            peak = tuple(max(a, b) for a, b in zip(peak, now, strict=True))  # type: ignore[assignment]
            time.sleep(0.3)
        assert peak[0] <= idle_threads + MAX_CONNECTIONS + HEADROOM + 4, (peak, idle_threads)
        assert peak[1] <= idle_fds + MAX_CONNECTIONS + HEADROOM + 4, (peak, idle_fds)
        assert peak[2] <= idle_rss + RSS_CEILING_MIB, (peak, idle_rss)
        assert peak[0] > idle_threads + MAX_CONNECTIONS // 2  # the clients did hold threads
    finally:
        for sock in socks:
            sock.close()
    gone = time.monotonic()
    wait_for(lambda: status(proc.pid)[0] <= idle_threads + 2, timeout=READ_TIMEOUT + 3)
    wait_for(lambda: status(proc.pid)[1] <= idle_fds + 2, timeout=READ_TIMEOUT + 3)
    assert time.monotonic() - gone < READ_TIMEOUT + 3
    back = time.monotonic() - gone
    assert scrape(port) == 200
    after = status(proc.pid)
    print(
        f"idle {idle_threads}/{idle_fds}/{idle_rss:.0f}, peak {peak}, after {after} in {back:.1f}s"
    )
