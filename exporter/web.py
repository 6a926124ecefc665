"""HTTP endpoints: /metrics, /-/healthy, /-/ready and the HTML status page at /."""

from __future__ import annotations

import gzip
import html
import io
import logging
import ssl
import sys
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from exporter import __version__
from exporter.model import Snapshot, TargetState
from exporter.webconfig import (
    AUTH_CHALLENGE,
    BasicAuth,
    LazyTLSMixin,
    WebConfig,
    build_ssl_context,
    wrap_server_socket,
)
from exporter.webguard import DeadlineReader, WebGuard

log = logging.getLogger(__name__)


class WebApp:
    """What the handler serves; kept apart from the socket code so tests can reuse it."""

    def __init__(
        self,
        metrics: Callable[[str], tuple[bytes, str]],
        snapshot: Callable[[], Snapshot],
        reload: Callable[[], tuple[bool, str]] | None = None,
        ready: Callable[[], bool] | None = None,
    ) -> None:
        self.metrics = metrics  # Accept header -> (body, content type)
        self.snapshot = snapshot
        self.reload = reload
        self.ready = ready or (lambda: snapshot().ready)


# The one path open without credentials, so container and load-balancer health
# checks work without a password (it reveals nothing but "the process serves").
UNAUTHENTICATED_PATHS = frozenset({"/-/healthy"})
# Cheap probes stay outside --web.max-requests, so a scrape storm does not make a
# liveness check fail and restart a process that is merely busy.
UNLIMITED_PATHS = frozenset({"/-/healthy", "/-/ready"})
RELOAD_PATH = "/-/reload"
_REFUSED = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class ExporterServer(LazyTLSMixin, ThreadingHTTPServer):
    """A threading HTTP(S) server whose handler threads never block process exit."""

    daemon_threads = True
    allow_reuse_address = True
    # A burst of connects must not fill the kernel's accept queue and drop a scraper's SYN.
    request_queue_size = 1024

    def __init__(
        self,
        address: tuple[str, int],
        app: WebApp,
        web: WebConfig | None = None,
        guard: WebGuard | None = None,
    ) -> None:
        web = web or WebConfig()
        self.app = app
        self.auth = BasicAuth(web.users) if web.users else None
        self.extra_headers = web.headers
        self.guard = guard or WebGuard()
        super().__init__(address, Handler)
        context = build_ssl_context(web)
        if context is not None:
            wrap_server_socket(self, context)

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
        frames = "".join(traceback.format_tb(err.__traceback__)) if err else ""
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


class _Rejected(Exception):
    """A request refused before it reached a route: answer ``status``, count ``reason``."""

    def __init__(self, status: HTTPStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Handler(BaseHTTPRequestHandler):
    """Routes GET and HEAD requests, POST /-/reload; everything else is 405."""

    server: ExporterServer
    server_version = f"cleanrooms-exporter/{__version__}"
    protocol_version = "HTTP/1.1"
    # Not HTTP/0.9: a request line that does not parse still gets a status line back.
    default_request_version = "HTTP/1.0"
    error_message_format = "%(code)d %(message)s\n"
    error_content_type = "text/plain; charset=utf-8"
    # Keep-alive scrapers would otherwise wait ~40 ms per response on Nagle and delayed ACKs.
    disable_nagle_algorithm = True

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
        except _Rejected as rejected:
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
            raise _Rejected(HTTPStatus.REQUEST_URI_TOO_LONG, "request_line_too_long")
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
                raise _Rejected(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "headers_too_large")
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
        auth = self.server.auth
        path = self.path.split("?", 1)[0]
        if auth is None or path in UNAUTHENTICATED_PATHS:
            return True
        if auth.check(self.headers.get("Authorization")):
            return True
        self.server.guard.reject("unauthorized")
        if self.headers.get("Content-Length", "0").strip() != "0" or self.headers.get(
            "Transfer-Encoding"
        ):
            self.close_connection = True  # its body stays unread: do not reuse the socket
        self._send(
            HTTPStatus.UNAUTHORIZED,
            b"unauthorized\n",
            "text/plain; charset=utf-8",
            WWW_Authenticate=AUTH_CHALLENGE,
        )
        return False

    def _dispatch(self) -> None:
        guard = self.server.guard
        limited = self.path.split("?", 1)[0] not in UNLIMITED_PATHS
        if limited and not guard.start_request():
            self.close_connection = True
            self._send(
                HTTPStatus.SERVICE_UNAVAILABLE, b"too many requests\n", "text/plain; charset=utf-8"
            )
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

    def end_headers(self) -> None:
        for name, value in self.server.extra_headers.items():
            self.send_header(name, value)
        super().end_headers()

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        route = _ROUTES.get(path)
        if route is not None:
            route(self)
        elif path == RELOAD_PATH and self.server.app.reload is not None:
            self._not_allowed(b"This endpoint requires a POST request.\n")
        else:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8")

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_POST(self) -> None:
        if not self._read_body():
            return
        if self.path.split("?", 1)[0] == RELOAD_PATH and self.server.app.reload is not None:
            ok, message = self.server.app.reload()
            status = HTTPStatus.OK if ok else HTTPStatus.INTERNAL_SERVER_ERROR
            self._send(status, f"{message}\n".encode(), "text/plain; charset=utf-8")
            return
        self._not_allowed()

    def do_PUT(self) -> None:
        if self._read_body():
            self._not_allowed()

    do_DELETE = do_PATCH = do_PUT  # noqa: N815

    def _read_body(self) -> bool:
        """Read and drop the body, so a keep-alive connection stays in step; False if refused."""
        if "Transfer-Encoding" in self.headers:
            self.close_connection = True  # a chunked body we will not read: do not reuse
            return True
        length = self.headers.get("Content-Length", "0").strip()
        if not length.isdigit():
            raise _Rejected(HTTPStatus.BAD_REQUEST, "bad_request")
        if int(length) > self.server.guard.limits.max_body:
            raise _Rejected(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body_too_large")
        if len(self.rfile.read(int(length))) < int(length):
            self.close_connection = True  # the client closed mid-body
            return False
        return True

    def _not_allowed(self, body: bytes = b"method not allowed\n") -> None:
        path = self.path.split("?", 1)[0]
        allow = "POST" if path == RELOAD_PATH and self.server.app.reload else "GET, HEAD"
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, body, "text/plain; charset=utf-8", Allow=allow)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("http %s %s", self.address_string(), format % args)

    def _send(self, status: HTTPStatus, body: bytes, content_type: str, **headers: str) -> None:
        self._writing = True
        self.connection.settimeout(self.server.guard.limits.write_timeout)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def metrics(self) -> None:
        body, content_type = self.server.app.metrics(self.headers.get("Accept", ""))
        if "gzip" in self.headers.get("Accept-Encoding", ""):
            self._send(HTTPStatus.OK, gzip.compress(body, 1), content_type, Content_Encoding="gzip")
        else:
            self._send(HTTPStatus.OK, body, content_type)

    def healthy(self) -> None:
        self._send(HTTPStatus.OK, b"Healthy\n", "text/plain; charset=utf-8")

    def ready(self) -> None:
        if self.server.app.ready():
            self._send(HTTPStatus.OK, b"Ready\n", "text/plain; charset=utf-8")
        else:
            self._send(
                HTTPStatus.SERVICE_UNAVAILABLE,
                b"first poll round not finished\n",
                "text/plain; charset=utf-8",
            )

    def index(self) -> None:
        page = render_status_page(self.server.app.snapshot())
        configured = {name.lower() for name in self.server.extra_headers}
        defaults = {
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
            "X-Content-Type-Options": "nosniff",
        }
        headers = {
            k.replace("-", "_"): v for k, v in defaults.items() if k.lower() not in configured
        }
        self._send(
            HTTPStatus.OK, page.encode("utf-8", "replace"), "text/html; charset=utf-8", **headers
        )


_ROUTES: dict[str, Callable[[Handler], None]] = {
    "/metrics": Handler.metrics,
    "/-/healthy": Handler.healthy,
    "/-/ready": Handler.ready,
    "/": Handler.index,
}

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Clean Rooms exporter</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #ccc; padding: 4px 8px; text-align: left; }}
.up {{ color: #1a7f37; }} .down {{ color: #cf222e; }} .pending {{ color: #9a6700; }}
</style></head><body>
<h1>Clean Rooms exporter</h1>
<p>Version {version}. <a href="/metrics">Metrics</a> &middot; <a href="/-/ready">Ready</a>
&middot; {count} targets &middot; page rendered {now}</p>
<table id="targets">
<thead><tr><th>Account</th><th>Region</th><th>Up</th><th>Last success</th>
<th>Last error</th><th>Collaborations</th></tr></thead>
<tbody>
{rows}
</tbody></table></body></html>
"""


def render_status_page(snapshot: Snapshot, now: datetime | None = None) -> str:
    """The HTML target table; every value from AWS or config is escaped."""
    states = sorted(snapshot.states.values(), key=lambda s: s.target.key)
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S UTC")
    return _PAGE.format(
        version=html.escape(__version__),
        count=len(states),
        now=stamp,
        rows="\n".join(_row(state) for state in states),
    )


def _row(state: TargetState) -> str:
    target = state.target
    account = target.account_id + (f" ({target.account_name})" if target.account_name else "")
    if not state.polled:
        up_class, up_text = "pending", "pending"
    else:
        up_class, up_text = ("up", "up") if state.up else ("down", "down")
    error = state.last_error
    error_text = f"{error.operation}: {error.code}: {error.message}" if error else ""
    cells = [
        ("account", account),
        ("region", target.region),
        (up_class, up_text),
        ("last-success", _when(state.last_success)),
        ("last-error", error_text),
        ("collaborations", _collaborations(state)),
    ]
    tds = "".join(f'<td class="{cls}">{html.escape(text)}</td>' for cls, text in cells)
    return (
        f'<tr data-account-id="{html.escape(target.account_id)}" '
        f'data-region="{html.escape(target.region)}">{tds}</tr>'
    )


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "never"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _collaborations(state: TargetState) -> str:
    if state.data is None:
        return ""
    counts = state.data.counts
    detail = ", ".join(f"{status} {n}" for status, n in counts.items())
    return f"{sum(counts.values())} ({detail})"
