"""HTTP endpoints: /metrics, /-/healthy, /-/ready, /-/reload and the status page at /."""

from __future__ import annotations

import logging
import socket
import zlib
from collections.abc import Callable, Collection, Sequence
from http import HTTPStatus
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from exporter import __version__
from exporter.core.model import Snapshot
from exporter.web.auth import AUTH_CHALLENGE, BasicAuth
from exporter.web.guard import WebGuard
from exporter.web.server import WRITE_SIZE, GuardedHandler, GuardedServer, batched
from exporter.web.statuspage import PageContext, render_status_page
from exporter.web.tls import LazyTLSMixin, wrap_server_socket
from exporter.web.tlsconfig import WebConfig, build_ssl_context

log = logging.getLogger(__name__)


class Metrics(Protocol):
    """The exposition for an Accept header, of the samples ``names`` asks for (None: all),
    as the parts to send one after another (the renderer's cached blocks, not one copy)."""

    def __call__(
        self, accept: str, names: Collection[str] | None
    ) -> tuple[Sequence[bytes], str]: ...


class WebApp:
    """What the handler serves; kept apart from the socket code so tests can reuse it."""

    def __init__(
        self,
        metrics: Metrics,
        snapshot: Callable[[], Snapshot],
        reload: Callable[[], tuple[bool, str]] | None = None,
        ready: Callable[[], bool] | None = None,
        page_context: Callable[[], PageContext] | None = None,
    ) -> None:
        self.metrics = metrics  # Accept header, name[] -> (body, content type)
        self.snapshot = snapshot
        self.reload = reload
        self.ready = ready or (lambda: snapshot().ready)
        self.page_context = page_context or PageContext


# The one path open without credentials, so container and load-balancer health
# checks work without a password (it reveals nothing but "the process serves").
UNAUTHENTICATED_PATHS = frozenset({"/-/healthy"})
# Cheap probes stay outside --web.max-requests, so a scrape storm does not make a
# liveness check fail and restart a process that is merely busy.
UNLIMITED_PATHS = frozenset({"/-/healthy", "/-/ready"})
RELOAD_PATH = "/-/reload"


class ExporterServer(LazyTLSMixin, GuardedServer):
    """The exporter's HTTP(S) server: TLS, basic auth and extra headers from the web config."""

    def __init__(
        self,
        address: tuple[str, int],
        app: WebApp,
        web: WebConfig | None = None,
        guard: WebGuard | None = None,
        listener: socket.socket | None = None,
    ) -> None:
        web = web or WebConfig()
        self.listener = listener  # a socket listen() bound already, if any
        self.app = app
        self.auth = BasicAuth(web.users) if web.users else None
        self.extra_headers = web.headers
        self.guard = guard or WebGuard()
        super().__init__(address, Handler)
        context = build_ssl_context(web)
        if context is not None:
            wrap_server_socket(self, context)


class Handler(GuardedHandler):
    """Routes GET and HEAD requests, POST /-/reload; everything else is 405."""

    server: ExporterServer
    server_version = f"cleanrooms-exporter/{__version__}"
    unlimited_paths = UNLIMITED_PATHS

    def parse_request(self) -> bool:
        if not super().parse_request():
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

    def end_headers(self) -> None:
        for name, value in self.server.extra_headers.items():
            self.send_header(name, value)
        super().end_headers()

    def do_GET(self) -> None:  # noqa: N802 (http.server calls do_<METHOD>)
        path = self.path.split("?", 1)[0]
        route = _ROUTES.get(path)
        if route is not None:
            route(self)
        elif path == RELOAD_PATH and self.server.app.reload is not None:
            self._not_allowed(b"This endpoint requires a POST request.\n")
        else:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8")

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()

    def do_POST(self) -> None:  # noqa: N802
        if not self.read_body():
            return
        if self.path.split("?", 1)[0] == RELOAD_PATH and self.server.app.reload is not None:
            ok, message = self.server.app.reload()
            status = HTTPStatus.OK if ok else HTTPStatus.INTERNAL_SERVER_ERROR
            self._send(status, f"{message}\n".encode(), "text/plain; charset=utf-8")
            return
        self._not_allowed()

    def do_PUT(self) -> None:  # noqa: N802
        if self.read_body():
            self._not_allowed()

    do_DELETE = do_PATCH = do_PUT  # noqa: N815

    def _not_allowed(self, body: bytes = b"method not allowed\n") -> None:
        path = self.path.split("?", 1)[0]
        allow = "POST" if path == RELOAD_PATH and self.server.app.reload else "GET, HEAD"
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, body, "text/plain; charset=utf-8", Allow=allow)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("http %s %s", self.address_string(), format % args)

    def metrics(self) -> None:
        names = scrape_names(self.path)
        parts, content_type = self.server.app.metrics(self.headers.get("Accept", ""), names)
        # The parts are the renderer's cached blocks: sent (or compressed) one after another,
        # never joined into one copy of tens of megabytes at organisation scale.
        if "gzip" in self.headers.get("Accept-Encoding", ""):
            self._send_parts(HTTPStatus.OK, gzipped(parts), content_type, Content_Encoding="gzip")
        else:
            self._send_parts(HTTPStatus.OK, parts, content_type)

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


GZIP = 31  # zlib's window bits for a gzip header and trailer
GZIP_LEVEL = 1  # fastest: scrapes are frequent and the text compresses well anyway


def gzipped(parts: Sequence[bytes]) -> list[bytes]:
    """``parts`` as one gzip stream, compressed ``WRITE_SIZE`` at a time (a tenth of their size)."""
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, GZIP)
    out = [compressor.compress(chunk) for chunk in batched(parts, WRITE_SIZE)]
    out.append(compressor.flush())
    return [chunk for chunk in out if chunk]


def scrape_names(path: str) -> frozenset[str] | None:
    """The samples ``/metrics?name[]=...`` asks for, as prometheus_client reads them.

    Repeat the parameter for several names; without any (or only empty ones), everything.
    """
    asked = parse_qs(urlsplit(path).query).get("name[]")
    return frozenset(asked) if asked else None


_ROUTES: dict[str, Callable[[Handler], None]] = {
    "/metrics": Handler.metrics,
    "/-/healthy": Handler.healthy,
    "/-/ready": Handler.ready,
    "/": Handler.index,
}
