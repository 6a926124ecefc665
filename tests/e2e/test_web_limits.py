"""What one HTTP client may hold: timeouts, request and connection caps, size limits, 405s."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import MappingProxyType

import bcrypt
import pytest
from prometheus_client import CollectorRegistry

from exporter.cli.main import main, parse_args, web_limits
from exporter.core.model import Snapshot
from exporter.web.guard import REJECT_REASONS, WebGuard, WebLimits
from exporter.web.handlers import ExporterServer, Metrics, WebApp
from exporter.web.tlsconfig import WebConfig
from tests.faultproxy import wait_for

FAST = WebLimits(read_timeout=0.5, idle_timeout=0.5, write_timeout=0.5)


class Served:
    def __init__(self, server: ExporterServer, guard: WebGuard) -> None:
        self.server = server
        self.guard = guard
        self.port = server.server_address[1]
        self.registry = CollectorRegistry()
        self.registry.register(guard)

    def rejected(self, reason: str) -> float:
        value = self.registry.get_sample_value(
            "cleanrooms_exporter_http_requests_rejected_total", {"reason": reason}
        )
        assert value is not None
        return value

    def gauge(self, name: str) -> float:
        value = self.registry.get_sample_value(f"cleanrooms_exporter_http_{name}")
        assert value is not None
        return value

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=5)

    def get(self, path: str, method: str = "GET", **kwargs) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request(method, path, **kwargs)
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()


@contextmanager
def serve(
    limits: WebLimits = FAST,
    metrics: Metrics | None = None,
    reload: Callable[[], tuple[bool, str]] | None = lambda: (True, "reloaded"),
) -> Iterator[Served]:
    guard = WebGuard(limits)
    app = WebApp(
        metrics or (lambda _accept, _names: ([b"up 1\n"], "text/plain")),
        Snapshot,
        reload,
        lambda: True,
    )
    server = ExporterServer(("127.0.0.1", 0), app, guard=guard)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield Served(server, guard)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def closed_by_server(sock: socket.socket, within: float) -> float:
    """Seconds until the server closes ``sock`` (reading and dropping any answer)."""
    started = time.monotonic()
    sock.settimeout(within)
    while sock.recv(4096):
        pass
    return time.monotonic() - started


def drip_until_closed(sock: socket.socket, data: bytes, gap: float) -> float:
    """Send ``data`` a byte per ``gap`` seconds; seconds until the server had closed."""
    started = time.monotonic()
    for byte in data:
        try:
            sock.send(bytes([byte]))
        except OSError:
            return time.monotonic() - started
        time.sleep(gap)
    return float("inf")


def raw(served: Served, payload: bytes) -> bytes:
    with served.connect() as sock:
        sock.sendall(payload)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_every_reason_is_exported_from_the_start() -> None:
    with serve() as served:
        assert [served.rejected(reason) for reason in REJECT_REASONS] == [0.0] * len(REJECT_REASONS)
        assert served.gauge("connections") == 0
        assert served.gauge("requests_in_flight") == 0


def test_a_silent_connection_is_closed_at_the_read_timeout() -> None:
    with serve() as served, served.connect() as silent:
        assert closed_by_server(silent, within=3) < 2
        wait_for(lambda: served.rejected("read_timeout") == 1, timeout=3)
        wait_for(lambda: served.gauge("connections") == 0, timeout=3)


def test_a_slow_sender_is_closed_though_every_byte_comes_in_time() -> None:
    # A byte every 0.2 s never trips a per-read timeout of 0.5 s; the deadline is per request.
    head = b"GET /metrics HTTP/1.1\r\nHost: x\r\nUser-Agent: slow\r\n\r\n"
    with serve() as served, served.connect() as slow:
        assert drip_until_closed(slow, head, gap=0.2) < 2  # all of it would take 10 s
        assert served.rejected("read_timeout") == 1


def test_keep_alive_idles_out_without_counting_as_rejected() -> None:
    with serve() as served, served.connect() as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        assert closed_by_server(sock, within=3) < 2
        assert served.rejected("read_timeout") == 0


def test_max_requests_answers_503_at_once_and_probes_still_pass() -> None:
    release = threading.Event()

    def slow_metrics(_accept: str, _names: object) -> tuple[list[bytes], str]:
        release.wait(10)
        return [b"up 1\n"], "text/plain"

    limits = WebLimits(max_requests=2)
    with serve(limits, metrics=slow_metrics) as served:
        busy = [threading.Thread(target=served.get, args=("/metrics",)) for _ in range(2)]
        for thread in busy:
            thread.start()
        wait_for(lambda: served.gauge("requests_in_flight") == 2, timeout=5)
        started = time.monotonic()
        status, _, _ = served.get("/metrics")
        assert status == 503
        assert time.monotonic() - started < 1  # not queued behind the slow ones
        assert served.get("/-/healthy")[0] == 200
        assert served.get("/-/ready")[0] == 200
        assert served.rejected("max_requests") == 1
        release.set()
        for thread in busy:
            thread.join()
        assert served.get("/metrics")[0] == 200
        # The server leaves a request's count just after writing its answer, so the
        # client may read that answer a moment before the count drops.
        wait_for(lambda: served.gauge("requests_in_flight") == 0, timeout=5)


def test_at_the_connection_cap_the_longest_waiting_connection_makes_room() -> None:
    limits = WebLimits(max_connections=4, read_timeout=30)
    with serve(limits) as served:
        silent = [served.connect() for _ in range(4)]
        wait_for(lambda: served.gauge("connections") == 4, timeout=5)
        assert served.get("/metrics")[0] == 200  # a fifth connection is served
        assert closed_by_server(silent[0], within=3) < 2  # the oldest made room for it
        assert served.rejected("max_connections") == 1
        for sock in silent:
            sock.close()
        wait_for(lambda: served.gauge("connections") == 0, timeout=5)


def test_when_every_connection_is_inside_a_request_a_new_one_is_refused() -> None:
    release = threading.Event()

    def slow_metrics(_accept: str, _names: object) -> tuple[list[bytes], str]:
        release.wait(10)
        return [b"up 1\n"], "text/plain"

    with serve(WebLimits(max_connections=2), metrics=slow_metrics) as served:
        busy = [threading.Thread(target=served.get, args=("/metrics",)) for _ in range(2)]
        for thread in busy:
            thread.start()
        wait_for(lambda: served.gauge("requests_in_flight") == 2, timeout=5)
        with served.connect() as refused:
            answer = refused.recv(4096)
        assert answer.startswith(b"HTTP/1.1 503")
        assert served.rejected("max_connections") == 1
        release.set()
        for thread in busy:
            thread.join()


def test_a_client_that_does_not_read_its_response_is_cut_off() -> None:
    big = b"x" * (32 << 20)  # far more than the socket buffers hold
    with (
        serve(metrics=lambda _accept, _names: ([big], "text/plain")) as served,
        served.connect() as sock,
    ):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        wait_for(lambda: served.rejected("write_timeout") == 1, timeout=5)
        wait_for(lambda: served.gauge("connections") == 0, timeout=5)


@pytest.mark.parametrize(
    ("payload", "status", "reason"),
    [
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", 414, "request_line_too_long"),
        (b"GET / HTTP/1.1\r\nX-A: " + b"b" * 20000 + b"\r\n\r\n", 431, "headers_too_large"),
        (b"GET / HTTP/1.1\r\n" + b"X-B: c\r\n" * 101 + b"\r\n", 431, "headers_too_large"),
        (b"POST /-/reload HTTP/1.1\r\nContent-Length: 65537\r\n\r\n", 413, "body_too_large"),
        (b"POST /-/reload HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, "bad_request"),
        (b"\x16\x03\x01\x02\x00\x01\x00\r\n\r\n", 400, "bad_request"),
        (b"GET / HTTP/2.0\r\n\r\n", 505, "bad_request"),
    ],
)
def test_oversized_and_malformed_requests_get_their_4xx(
    payload: bytes, status: int, reason: str
) -> None:
    with serve() as served:
        answer = raw(served, payload)
        assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer[:80]
        assert served.rejected(reason) == 1


def test_limits_at_their_edge_are_served() -> None:
    with serve() as served:
        headers = {f"X-{i}": "v" for i in range(90)}
        assert served.get("/metrics", headers=headers)[0] == 200
        assert served.get("/-/reload", "POST", body=b"x" * 65536)[0] == 200
        assert served.get("/" + "a" * 8000)[0] == 404


def test_get_reload_is_405_with_allow_post() -> None:
    with serve() as served:
        status, headers, body = served.get("/-/reload")
        assert (status, headers["Allow"]) == (405, "POST")
        assert b"POST" in body
        status, headers, _ = served.get("/metrics", "POST")
        assert (status, headers["Allow"]) == (405, "GET, HEAD")
        assert served.get("/-/reload", "POST")[0] == 200


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--web.read-timeout", "soon"], "--web.read-timeout"),
        (["--web.idle-timeout", "0s"], "--web.idle-timeout must be above 0"),
        (["--web.max-requests", "-1"], "--web.max-requests"),
        (["--web.max-connections", "0"], "--web.max-connections"),
    ],
)
def test_bad_web_flags_exit_2(
    flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*flags, "--config.check"]) == 2
    assert message in capsys.readouterr().err


def test_web_flags_reach_the_limits() -> None:
    args = parse_args(
        [
            "--web.read-timeout=3s",
            "--web.idle-timeout=2m",
            "--web.max-requests=0",
            "--web.max-connections=9",
        ]
    )
    limits = web_limits(args)
    assert (limits.read_timeout, limits.idle_timeout) == (3.0, 120.0)
    assert (limits.max_requests, limits.max_connections) == (0, 9)
    assert web_limits(parse_args([])) == WebLimits()


def test_a_401_keeps_the_connection_usable_with_a_fresh_deadline() -> None:
    hashed = bcrypt.hashpw(b"secret", bcrypt.gensalt(rounds=4)).decode()
    guard = WebGuard(WebLimits(read_timeout=0.5, idle_timeout=5))
    app = WebApp(lambda _accept, _names: ([b"up 1\n"], "text/plain"), Snapshot)
    web = WebConfig(users=MappingProxyType({"ops": hashed}))
    server = ExporterServer(("127.0.0.1", 0), app, web, guard)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
        conn.request("GET", "/metrics")
        first = conn.getresponse()
        first.read()
        time.sleep(0.8)  # past the first request's read deadline
        conn.request("GET", "/-/healthy")  # the same connection
        second = conn.getresponse()
        assert (first.status, second.status, second.read()) == (401, 200, b"Healthy\n")
        conn.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
