"""The threading HTTP server and request reading, under a ``WebGuard``'s bounds.

What is served lives in ``web.py``; this module decides whether and how long a
client is listened to: connection admission, one deadline per request, size
limits with their 4xx, the 503 beyond ``--web.max-requests``, and a write
timeout for clients that do not read their answer.
"""

from __future__ import annotations

import io
import logging
import socket
import ssl
import sys
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import accumulate
from typing import Any

from exporter.core.logs import format_tb
from exporter.web.guard import DeadlineReader, WebGuard

log = logging.getLogger(__name__)

_REFUSED = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


LISTEN_FLAG = "--web.listen-address"
# A burst of connects must not fill the kernel's accept queue and drop a scraper's SYN.
QUEUE_SIZE = 1024


class ListenError(Exception):
    """The address cannot be listened on; the message names the flag that set it."""


def listen(address: tuple[str, int]) -> socket.socket:
    """A socket bound to ``address`` and listening, taken before any slow start-up work so
    a port in use fails at once; ``ListenError`` says which address and flag."""
    host, port = address
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # As http.server does (allow_reuse_address): a restart binds despite TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(QUEUE_SIZE)
    except OSError as err:
        sock.close()
        where = f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}"
        why = err.strerror or str(err)
        raise ListenError(f"cannot listen on {where} ({LISTEN_FLAG}): {why}") from err
    return sock


class GuardedServer(ThreadingHTTPServer):
    """A thread per admitted connection; threads never block process exit."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = QUEUE_SIZE
    guard: WebGuard
    listener: socket.socket | None = None  # bound by listen(): adopted, not bound again

    def server_bind(self) -> None:
        if self.listener is None:
            super().server_bind()
            return
        self.socket.close()  # the one socketserver made before it knew of the listener
        self.socket = self.listener
        self.server_address = self.socket.getsockname()
        # What HTTPServer.server_bind sets after binding.
        host, port = self.socket.getsockname()[:2]
        self.server_name = socket.getfqdn(host)
        self.server_port = port

    def server_activate(self) -> None:
        if self.listener is None:
            super().server_activate()  # a listener listens already

    def process_request(self, request: Any, client_address: Any) -> None:
        # On the listening thread: decide at once, never wait for a free slot.
        if not self.guard.admit(request):
            _refuse(request)
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        self.guard.release(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        err = sys.exc_info()[1]
        if isinstance(err, OSError):  # a client that went away or was cut off
            log.debug("http %s: %s", client_address, err)
            return
        frames = format_tb(err) if err else ""
        log.error("http: unexpected %s\n%s", type(err).__name__, frames)


def _refuse(request: Any) -> None:
    """A best-effort 503 on a connection that will not be served (plain HTTP only)."""
    if isinstance(request, ssl.SSLSocket):
        return  # no handshake yet, so nothing can be said
    try:
        request.setblocking(False)
        request.send(_REFUSED)
    except OSError:
        pass


class Rejected(Exception):
    """A request refused before it reached a route: answer ``status``, count ``reason``."""

    def __init__(self, status: HTTPStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class GuardedHandler(BaseHTTPRequestHandler):
    """Reads each request within the guard's limits, then calls ``do_<METHOD>``."""

    server: GuardedServer
    protocol_version = "HTTP/1.1"
    # Not HTTP/0.9: a request line that does not parse still gets a status line back.
    default_request_version = "HTTP/1.0"
    error_message_format = "%(code)d %(message)s\n"
    error_content_type = "text/plain; charset=utf-8"
    # Keep-alive scrapers would otherwise wait ~40 ms per response on Nagle and delayed ACKs.
    disable_nagle_algorithm = True
    # Paths outside --web.max-requests.
    unlimited_paths: frozenset[str] = frozenset()

    def setup(self) -> None:
        super().setup()
        self.rfile.close()  # replaced by one whose reads share a deadline
        self._reader = DeadlineReader(self.connection, self.server.guard.limits.read_timeout)
        self._buffered = io.BufferedReader(self._reader)
        self.rfile = self._buffered
        self._served = 0
        self._idle = False
        self._writing = False

    def handle_one_request(self) -> None:
        guard = self.server.guard
        self.close_connection = True  # until a whole request has been answered
        try:
            if self._read_request():
                self._dispatch()
        except Rejected as rejected:
            guard.reject(rejected.reason)
            self._answer_error(rejected.status)
        except TimeoutError:
            if not self._idle:  # a keep-alive connection that stays quiet is no rejection
                guard.reject("write_timeout" if self._writing else "read_timeout")
            self.close_connection = True

    def _read_request(self) -> bool:
        """Read and parse one request head within the limits; False: close the connection."""
        guard, limits = self.server.guard, self.server.guard.limits
        self._writing = False
        if self._served:  # keep-alive: wait up to the idle timeout for the next request
            self._idle = True
            self._reader.start(limits.idle_timeout)
            if not guard.waiting(self.connection) or not self._buffered.peek(1):
                return False
            self._idle = False
            self._reader.start(limits.read_timeout)
        line = self.rfile.readline(limits.max_request_line + 1)
        if len(line) > limits.max_request_line:
            raise Rejected(HTTPStatus.REQUEST_URI_TOO_LONG, "request_line_too_long")
        if not line.endswith(b"\n"):
            return False  # closed before a whole line
        head = self._read_header_lines()
        if head is None or not guard.busy(self.connection):
            return False
        self.raw_requestline = line
        body = self.rfile
        self.rfile = io.BytesIO(head)  # the standard parser reads the bounded head from here
        try:
            parsed = self.parse_request()
        finally:
            self.rfile = body
        if not parsed:  # answered (400, 401): a kept-alive connection waits for the next one
            self._served += 1
        return parsed

    def _read_header_lines(self) -> bytes | None:
        limits = self.server.guard.limits
        lines: list[bytes] = []
        size = 0
        while True:
            line = self.rfile.readline(limits.max_header_bytes - size + 1)
            size += len(line)
            if size > limits.max_header_bytes or len(lines) > limits.max_headers:
                raise Rejected(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "headers_too_large")
            if not line.endswith(b"\n"):
                return None  # closed in the middle of the head
            lines.append(line)
            if line in (b"\r\n", b"\n"):
                return b"".join(lines)

    def _answer_error(self, status: HTTPStatus) -> None:
        self.requestline = self.request_version = self.command = ""
        self.connection.settimeout(self.server.guard.limits.write_timeout)
        self.send_error(status)
        self.close_connection = True

    def parse_request(self) -> bool:
        if not super().parse_request():
            self.server.guard.reject("bad_request")
            return False
        return True

    def _dispatch(self) -> None:
        guard = self.server.guard
        limited = self.path.split("?", 1)[0] not in self.unlimited_paths
        if limited and not guard.start_request():
            self.close_connection = True
            self._send(HTTPStatus.SERVICE_UNAVAILABLE, b"too many requests\n", _TEXT)
            return
        try:
            method = getattr(self, f"do_{self.command}", None)
            if method is None:
                self.send_error(HTTPStatus.NOT_IMPLEMENTED, f"unsupported method {self.command!r}")
            else:
                method()
            self.wfile.flush()
        finally:
            if limited:
                guard.end_request()
        self._served += 1

    def read_body(self) -> bool:
        """Read and drop the body, so a keep-alive connection stays in step; False if cut."""
        if "Transfer-Encoding" in self.headers:
            self.close_connection = True  # a chunked body we will not read: do not reuse
            return True
        length = self.headers.get("Content-Length", "0").strip()
        if not length.isdigit():
            raise Rejected(HTTPStatus.BAD_REQUEST, "bad_request")
        if int(length) > self.server.guard.limits.max_body:
            raise Rejected(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body_too_large")
        if len(self.rfile.read(int(length))) < int(length):
            self.close_connection = True  # the client closed mid-body
            return False
        return True

    def _send(self, status: HTTPStatus, body: bytes, content_type: str, **headers: str) -> None:
        self._send_parts(status, (body,), content_type, **headers)

    def _send_parts(
        self, status: HTTPStatus, parts: Sequence[bytes], content_type: str, **headers: str
    ) -> None:
        """A response whose body is ``parts`` one after another, its length known first."""
        self._writing = True
        self.connection.settimeout(self.server.guard.limits.write_timeout)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(sum(map(len, parts))))
        self.send_header("Cache-Control", "no-store")
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        if self.command != "HEAD":
            for chunk in batched(parts, WRITE_SIZE):
                self.wfile.write(chunk)


# Bytes a write (or a compression step) gathers. Each socket write and each zlib call
# lets go of the interpreter lock, and with 64 poll threads busy, taking it back costs
# tens of milliseconds. Measured at 300 targets with every collector polling every 30 s
# (an 83 MB exposition; docs/performance.md): per cached block a scrape took 30 s; per
# 8 MiB a median of 1.8 s; per 32 MiB 0.97 s, against 0.88 s for one joined copy, whose
# extra copy cost 160 MiB of peak memory more.
WRITE_SIZE = 32 << 20


def batched(parts: Sequence[bytes], size: int) -> Iterator[bytes]:
    """``parts`` gathered into writes of about ``size`` bytes (a large part goes alone).

    The cuts are found by bisection over the running lengths, and each write is one join:
    a loop in Python over 80,000 blocks would be time-sliced against every poll thread.
    """
    ends = list(accumulate(map(len, parts)))
    start, sent = 0, 0
    while start < len(parts):
        stop = max(bisect_right(ends, sent + size, lo=start), start + 1)
        yield b"".join(parts[start:stop])
        start, sent = stop, ends[stop - 1]


_TEXT = "text/plain; charset=utf-8"
