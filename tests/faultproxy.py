"""A fault-injecting HTTP proxy in front of moto, on a loopback port.

Rules see each request (operation, the account it is for, its query) and may
answer it themselves: an HTTP error, a malformed body, a dropped connection,
a hang. Requests no rule answers go to moto unchanged. Every request is logged.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from exporter.demo.fake.service import SERVICES, forward, operation_for, send

_AKID = re.compile(r"Credential=([A-Z0-9]+)/")
_SCOPE = re.compile(r"Credential=[A-Z0-9]+/\d{8}/[a-z0-9-]+/([a-z0-9-]+)/")  # signing name
_HOP = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})


@dataclass(frozen=True)
class Seen:
    """One request as the proxy saw it."""

    operation: str
    account_id: str | None
    method: str
    path: str
    query: dict[str, list[str]]
    body: str
    at: float = field(default_factory=time.monotonic)


@dataclass
class Reply:
    """A canned answer: status, body, headers; ``action`` drop|hang|truncate for broken ones."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    action: str = ""

    @classmethod
    def aws_error(cls, status: int, code: str, message: str = "injected") -> Reply:
        body = json.dumps({"__type": code, "message": message}).encode()
        return cls(status, body, {"x-amzn-ErrorType": code, "Content-Type": "application/json"})

    @classmethod
    def sts_error(cls, status: int, code: str, message: str = "injected") -> Reply:
        body = (
            "<ErrorResponse><Error><Type>Sender</Type>"
            f"<Code>{code}</Code><Message>{message}</Message></Error>"
            "<RequestId>1</RequestId></ErrorResponse>"
        ).encode()
        return cls(status, body, {"Content-Type": "text/xml"})


Rule = Callable[[Seen], Reply | None]


class FaultProxy(ThreadingHTTPServer):
    """Forward to ``upstream`` unless a rule answers; learn which account each access key is."""

    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        parsed = urllib.parse.urlsplit(upstream)
        self.upstream = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self.rules: list[Rule] = []
        self.seen: list[Seen] = []
        self.key_accounts: dict[str, str] = {}
        self.issued_secrets: list[str] = []  # secret keys and session tokens STS handed out
        self.lock = threading.Lock()
        self.hang = threading.Event()
        super().__init__(("127.0.0.1", 0), _Handler)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def close(self) -> None:
        self.hang.set()
        self.shutdown()
        self.server_close()

    def calls(self, operation: str, account_id: str | None = None) -> list[Seen]:
        with self.lock:
            return [
                s
                for s in self.seen
                if s.operation == operation and (account_id is None or s.account_id == account_id)
            ]

    def answer(self, seen: Seen) -> Reply | None:
        for rule in list(self.rules):
            reply = rule(seen)
            if reply is not None:
                return reply
        return None


class _Handler(BaseHTTPRequestHandler):
    server: FaultProxy
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def handle_any(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        seen = self._describe(body.decode("utf-8", "replace"))
        with self.server.lock:
            self.server.seen.append(seen)
        reply = self.server.answer(seen)
        if reply is None:
            self._forward(body, seen)
        else:
            self._reply(reply)

    do_GET = do_POST = do_PUT = do_DELETE = handle_any  # noqa: N815

    def _describe(self, body: str) -> Seen:
        split = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(split.query)
        form = urllib.parse.parse_qs(body)
        target = self.headers.get("X-Amz-Target", "")
        if target:  # the JSON protocols (Organizations, Service Quotas) name it in a header
            key = _AKID.search(self.headers.get("Authorization", ""))
            account = self.server.key_accounts.get(key.group(1)) if key else None
            return Seen(target.rsplit(".", 1)[-1], account, self.command, split.path, query, body)
        if "Action" in form:
            operation = form["Action"][0]
            match = re.search(r":iam::(\d{12}):", form.get("RoleArn", [""])[0])
            account = match.group(1) if match else None
        else:
            authorization = self.headers.get("Authorization", "")
            scope = _SCOPE.search(authorization)
            service = SERVICES.get(scope.group(1), "cleanrooms") if scope else "cleanrooms"
            found = operation_for(self.command, split.path, service)
            operation = found[0] if found else split.path
            key = _AKID.search(authorization)
            account = self.server.key_accounts.get(key.group(1)) if key else None
        return Seen(operation, account, self.command, split.path, query, body)

    def _forward(self, body: bytes, seen: Seen) -> None:
        status, payload, headers = forward(self, self.server.upstream, body)
        if seen.operation == "AssumeRole" and seen.account_id:
            self._learn_key(payload.decode(), seen.account_id)
        self._reply(Reply(status, payload, headers))

    def _learn_key(self, xml: str, account_id: str) -> None:
        match = re.search(r"<AccessKeyId>([A-Z0-9]+)</AccessKeyId>", xml)
        secrets = re.findall(r"<(?:SecretAccessKey|SessionToken)>([^<]+)</", xml)
        with self.server.lock:
            if match:
                self.server.key_accounts[match.group(1)] = account_id
            self.server.issued_secrets.extend(secrets)

    def _reply(self, reply: Reply) -> None:
        if reply.action == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if reply.action == "hang":
            self.server.hang.wait(60)
            self.close_connection = True
            return
        if reply.action != "truncate":
            send(self, reply.status, reply.body, reply.headers)
            return
        # Announce the whole body, send half of it, and hang up.
        half = reply.body[: len(reply.body) // 2]
        send(self, reply.status, half, reply.headers, length=len(reply.body))
        self.wfile.flush()
        self.close_connection = True
        self.connection.shutdown(2)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def first_n(n: int, reply: Reply, operation: str, account_id: str | None = None) -> Rule:
    """A rule that answers the first ``n`` matching requests with ``reply``."""
    remaining = [n]
    lock = threading.Lock()

    def rule(seen: Seen) -> Reply | None:
        if seen.operation != operation or (account_id and seen.account_id != account_id):
            return None
        with lock:
            if remaining[0] <= 0:
                return None
            remaining[0] -= 1
        return reply

    return rule


def always(reply: Reply, operation: str, account_id: str | None = None) -> Rule:
    """A rule that answers every matching request with ``reply``."""

    def rule(seen: Seen) -> Reply | None:
        if seen.operation == operation and (account_id is None or seen.account_id == account_id):
            return reply
        return None

    return rule


def wait_for(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    """Poll ``predicate`` until true; fail the test on timeout."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)
