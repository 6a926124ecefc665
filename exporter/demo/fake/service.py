"""A small fake of the Clean Rooms operations moto lacks, in front of moto, on loopback.

Requests for operations a store implements (``*_store`` modules, found by name and
registered with ``api.register``) are answered from that store; all others go to moto
unchanged, except those of Clean Rooms ML (which moto lacks entirely): they are refused
with 404. The service is the one the signature's scope names, the region the scope's, and
the account the signing key's, looked up in moto (which issued it). Every answer is first
written as the wire carries it (``wire``: each timestamp in its model's format), then
checked against botocore's service model (``validate``): one that does not fit is never
sent, but recorded in ``violations`` and answered with HTTP 500, so a test fails loudly.

Used by the tests and by ``--demo``; needs moto (the demo extra).
"""

from __future__ import annotations

import http.client
import importlib
import json
import pkgutil
import re
import threading
import urllib.parse
from collections.abc import Callable
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from exporter.demo import fake
from exporter.demo.fake.api import STORES, ErrorAnswer, Handler, Request, Route, Store
from exporter.demo.fake.validate import service_model, validate_output
from exporter.demo.fake.wire import encode

# Credential=<access key>/<date>/<region>/<signing name>/aws4_request
_SCOPE = re.compile(r"Credential=([A-Z0-9]+)/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/")
# The services the fake answers: signing name (as the scope names it) -> botocore's name.
SERVICES = {
    "cleanrooms": "cleanrooms",
    "cleanrooms-ml": "cleanroomsml",
    "servicequotas": "service-quotas",
}
_HOP = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})


def is_json(service: str) -> bool:
    """Whether the service speaks a JSON protocol (awsJson1_1: Service Quotas): every request
    is a POST to ``/`` that names its operation in the X-Amz-Target header."""
    return bool(service_model(service).protocol == "json")


def route_table(service: str = "cleanrooms") -> list[tuple[str, re.Pattern[str], str]]:
    """(HTTP method, path regex, operation) for every operation of a rest service's model."""
    model = service_model(service)
    if is_json(service):
        return []  # no paths to route by: operation_for_target does
    routes = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        path = http["requestUri"].split("?", 1)[0]
        regex = re.sub(r"\{(\w+)\+?\}", r"(?P<\1>[^/]+)", path)
        routes.append((http["method"], re.compile(f"^{regex}$"), name))
    return routes


@cache
def _routes(service: str) -> list[tuple[str, re.Pattern[str], str]]:
    # Built on first use: loading the service models takes a tenth of a second.
    return route_table(service)


def operation_for(
    method: str, path: str, service: str = "cleanrooms"
) -> tuple[str, dict[str, str]] | None:
    """The operation of ``service`` (botocore's name) a request is for, with its path parameters."""
    plain = urllib.parse.urlsplit(path).path
    for route_method, regex, name in _routes(service):
        match = regex.match(plain)
        if route_method == method and match:
            return name, {k: urllib.parse.unquote(v) for k, v in match.groupdict().items()}
    return None


def operation_for_target(target: str, service: str) -> str | None:
    """The operation an X-Amz-Target header names (``ServiceQuotasV20190624.ListServiceQuotas``),
    if it is one of the service's and the prefix is the model's."""
    model = service_model(service)
    prefix, _, name = target.rpartition(".")
    if prefix != model.metadata.get("targetPrefix") or name not in model.operation_names:
        return None
    return name


def store_classes() -> list[type[Store]]:
    """Every registered store: importing the ``*_store`` modules registers theirs."""
    for found in pkgutil.iter_modules(fake.__path__):
        if found.name.endswith("_store"):
            importlib.import_module(f"{fake.__name__}.{found.name}")
    return list(STORES)


class FakeCleanRooms(ThreadingHTTPServer):
    """The fake's stores and its HTTP server; start it with ``start()``.

    Each store is reachable by its name: ``fake.analyses``, ``fake.ml``.
    """

    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        parsed = urllib.parse.urlsplit(upstream)
        self.upstream = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self.lock = threading.Lock()
        self.violations: list[str] = []
        self.stores: dict[str, Store] = {cls.name: cls() for cls in store_classes()}
        self.routes: dict[Route, Handler] = {}
        for store in self.stores.values():
            self.routes.update(store.routes())
        super().__init__(("127.0.0.1", 0), _Handler)
        # Given a request path, whether to answer it with a 429 (the demo sets it).
        self.throttle: Callable[[str], bool] | None = None

    def __getattr__(self, name: str) -> Any:
        stores = self.__dict__.get("stores", {})
        if name in stores:
            return stores[name]
        raise AttributeError(name)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> FakeCleanRooms:
        threading.Thread(target=self.serve_forever, name="fake-cleanrooms", daemon=True).start()
        return self

    def close(self) -> None:
        self.shutdown()
        self.server_close()

    def answers(self, service: str, operation: str) -> bool:
        return (service, operation) in self.routes

    def answer(self, request: Request, service: str = "cleanrooms") -> tuple[int, dict[str, Any]]:
        """Status and body for a request the fake implements, checked against the model."""
        try:
            body = self.routes[(service, request.operation)](request)
        except ErrorAnswer as err:
            return err.status, {"message": str(err), "__type": err.code}
        shape = service_model(service).operation_model(request.operation).output_shape
        sent = encode(shape, body)
        problems = validate_output(request.operation, sent, service)
        if problems:
            with self.lock:
                self.violations.extend(problems)
            return 500, {"message": "fake response does not fit the model", "__type": "Fake"}
        return 200, sent


def account_of(access_key: str) -> str:
    """The account moto issued ``access_key`` for (moto's default account if unknown)."""
    from moto.iam.models import get_account_id_from  # noqa: PLC0415 (demo extra)

    return str(get_account_id_from(access_key))


class _Handler(BaseHTTPRequestHandler):
    server: FakeCleanRooms
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def handle_any(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        throttle = self.server.throttle
        if throttle is not None and throttle(self.path):
            error = {"message": "Rate exceeded", "__type": "ThrottlingException"}
            send(self, 429, json.dumps(error).encode(), _error_headers("ThrottlingException"))
            return
        scope = _SCOPE.search(self.headers.get("Authorization", ""))
        service = None if scope is None else SERVICES.get(scope.group(3))
        if scope is None or service is None:  # unsigned, or not ours: moto answers as it would
            send(self, *forward(self, self.server.upstream, body))
            return
        request = self._request(scope, service, body)
        if request is not None:
            self._reply(*self.server.answer(request, service), service)
        elif service == "cleanroomsml":  # moto has no Clean Rooms ML: nothing to forward to
            self._reply(404, unknown_operation(self.command, self.path))
        else:
            send(self, *forward(self, self.server.upstream, body))

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any  # noqa: N815

    def _request(self, scope: re.Match[str], service: str, body: bytes) -> Request | None:
        """The request, if it is for an operation of ``service`` the fake implements."""
        found: tuple[str, dict[str, str]] | None
        if is_json(service):
            target = operation_for_target(self.headers.get("X-Amz-Target", ""), service)
            found = None if target is None else (target, {})
        else:
            found = operation_for(self.command, self.path, service)
        if found is None or not self.server.answers(service, found[0]):
            return None
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        return Request(
            found[0],
            account_of(scope.group(1)),
            scope.group(2),
            found[1],
            {k: v[0] for k, v in query.items()},
            _json_body(body),
        )

    def _reply(self, status: int, payload: dict[str, Any], service: str = "cleanrooms") -> None:
        kind = _AMZ_JSON if is_json(service) else _JSON
        headers = {**kind, "x-amzn-ErrorType": payload["__type"]} if status >= 400 else kind
        send(self, status, json.dumps(payload).encode(), headers)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


_JSON = {"Content-Type": "application/json"}
_AMZ_JSON = {"Content-Type": "application/x-amz-json-1.1"}


def _json_body(body: bytes) -> dict[str, Any]:
    """A request's JSON members (a POST's), or none."""
    try:
        found = json.loads(body) if body else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def unknown_operation(method: str, path: str) -> dict[str, Any]:
    """The error body AWS sends for a request that names no operation the fake implements."""
    plain = urllib.parse.urlsplit(path).path
    return {"message": f"no operation for {method} {plain}", "__type": "UnknownOperationException"}


def _error_headers(code: str) -> dict[str, str]:
    return {**_JSON, "x-amzn-ErrorType": code}


def forward(
    handler: BaseHTTPRequestHandler, upstream: tuple[str, int], body: bytes
) -> tuple[int, bytes, dict[str, str]]:
    """Send the handler's request on to ``upstream``; its status, body and end-to-end headers."""
    conn = http.client.HTTPConnection(*upstream, timeout=30)
    try:
        conn.request(handler.command, handler.path, body, dict(handler.headers))
        response = conn.getresponse()
        payload = response.read()
        headers = {k: v for k, v in response.getheaders() if k.lower() not in _HOP}
    finally:
        conn.close()
    return response.status, payload, headers


def send(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes,
    headers: dict[str, str],
    length: int | None = None,
) -> None:
    """Answer with a body of known length, so keep-alive connections stay usable.

    ``length`` announces another length than the body's (fault injection only).
    """
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body) if length is None else length))
    handler.end_headers()
    handler.wfile.write(body)
