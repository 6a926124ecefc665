"""HTTP endpoints: /metrics, /-/healthy, /-/ready, /-/reload and the status page at /."""

from __future__ import annotations

import gzip
import logging
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from exporter import __version__
from exporter.model import Snapshot
from exporter.statuspage import PageContext, render_status_page
from exporter.webconfig import (
    AUTH_CHALLENGE,
    BasicAuth,
    LazyTLSMixin,
    WebConfig,
    build_ssl_context,
    wrap_server_socket,
)

log = logging.getLogger(__name__)


class WebApp:
    """What the handler serves; kept apart from the socket code so tests can reuse it."""

    def __init__(
        self,
        metrics: Callable[[str], tuple[bytes, str]],
        snapshot: Callable[[], Snapshot],
        reload: Callable[[], tuple[bool, str]] | None = None,
        ready: Callable[[], bool] | None = None,
        page_context: Callable[[], PageContext] | None = None,
    ) -> None:
        self.metrics = metrics  # Accept header -> (body, content type)
        self.snapshot = snapshot
        self.reload = reload
        self.ready = ready or (lambda: snapshot().ready)
        self.page_context = page_context or PageContext


# The one path open without credentials, so container and load-balancer health
# checks work without a password (it reveals nothing but "the process serves").
UNAUTHENTICATED_PATHS = frozenset({"/-/healthy"})


class ExporterServer(LazyTLSMixin, ThreadingHTTPServer):
    """A threading HTTP(S) server whose handler threads never block process exit."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: WebApp, web: WebConfig | None = None) -> None:
        web = web or WebConfig()
        self.app = app
        self.auth = BasicAuth(web.users) if web.users else None
        self.extra_headers = web.headers
        super().__init__(address, Handler)
        context = build_ssl_context(web)
        if context is not None:
            wrap_server_socket(self, context)


class Handler(BaseHTTPRequestHandler):
    """Routes GET and HEAD requests; everything else is 405."""

    server: ExporterServer
    server_version = f"cleanrooms-exporter/{__version__}"
    protocol_version = "HTTP/1.1"
    # Keep-alive scrapers would otherwise wait ~40 ms per response on Nagle and delayed ACKs.
    disable_nagle_algorithm = True

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        auth = self.server.auth
        path = self.path.split("?", 1)[0]
        if auth is None or path in UNAUTHENTICATED_PATHS:
            return True
        if auth.check(self.headers.get("Authorization")):
            return True
        self._send(
            HTTPStatus.UNAUTHORIZED,
            b"unauthorized\n",
            "text/plain; charset=utf-8",
            WWW_Authenticate=AUTH_CHALLENGE,
        )
        return False

    def end_headers(self) -> None:
        for name, value in self.server.extra_headers.items():
            self.send_header(name, value)
        super().end_headers()

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        route = _ROUTES.get(path)
        if route is None:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8")
            return
        route(self)

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_POST(self) -> None:
        self._discard_body()  # keep a keep-alive connection in step
        if self.path.split("?", 1)[0] == "/-/reload" and self.server.app.reload is not None:
            ok, message = self.server.app.reload()
            status = HTTPStatus.OK if ok else HTTPStatus.INTERNAL_SERVER_ERROR
            self._send(status, f"{message}\n".encode(), "text/plain; charset=utf-8")
            return
        self._not_allowed()

    def do_PUT(self) -> None:
        self._discard_body()
        self._not_allowed()

    do_DELETE = do_PATCH = do_PUT  # noqa: N815

    def _discard_body(self) -> None:
        length = self.headers.get("Content-Length", "0")
        if length.isdigit() and 0 < int(length) <= 1 << 20:
            self.rfile.read(int(length))
        elif length != "0":
            self.close_connection = True  # a body we will not read: do not reuse the socket

    def _not_allowed(self) -> None:
        self._send(
            HTTPStatus.METHOD_NOT_ALLOWED, b"method not allowed\n", "text/plain; charset=utf-8"
        )

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("http %s %s", self.address_string(), format % args)

    def _send(self, status: HTTPStatus, body: bytes, content_type: str, **headers: str) -> None:
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
        page = render_status_page(self.server.app.snapshot(), self.server.app.page_context())
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
