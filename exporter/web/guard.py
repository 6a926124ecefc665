"""Bounds on what HTTP clients can hold: time, connections, requests in flight, request size.

One ``WebGuard`` per server. The listening thread asks it to admit each new
connection; at the connection cap it closes the connection that has waited
longest for its next request, so silent or slow clients cannot lock out a
scraper, and the number of handler threads keeps a ceiling whatever clients do.
It is also the collector of ``cleanrooms_exporter_http_*``.
"""

from __future__ import annotations

import contextlib
import io
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

# Every reason is exported from the start (at 0), so a rate() over it needs no absent().
REJECT_REASONS = (
    "max_connections",  # a connection closed to stay under --web.max-connections
    "max_requests",  # 503: over --web.max-requests
    "read_timeout",  # request not received within --web.read-timeout
    "write_timeout",  # client did not read its response within the write timeout
    "request_line_too_long",  # 414
    "headers_too_large",  # 431
    "body_too_large",  # 413
    "bad_request",  # 400 (malformed request line, headers or Content-Length) and 505
    "unauthorized",  # 401 (basic auth configured, credentials missing or wrong)
)


@dataclass(frozen=True)
class WebLimits:
    """What one client may take; the defaults are the flags' defaults."""

    read_timeout: float = 5.0  # request line, headers and body, from the request's first byte
    idle_timeout: float = 60.0  # a keep-alive connection between requests
    write_timeout: float = 60.0  # one response, to a client that does not read it
    max_requests: int = 40  # served at once; 0 means no limit
    max_connections: int = 512
    max_request_line: int = 8192
    max_header_bytes: int = 16384
    max_headers: int = 100
    max_body: int = 65536

    @property
    def eviction_headroom(self) -> int:
        """Closed connections whose threads may still be finishing, beyond the cap."""
        return max(8, self.max_connections // 8)


class WebGuard(Collector):
    """Tracks connections and requests in flight; counts what it refused."""

    def __init__(self, limits: WebLimits | None = None) -> None:
        self.limits = limits or WebLimits()
        self._lock = threading.Lock()
        self._open: set[Any] = set()  # admitted sockets whose thread has not finished
        self._waiting: dict[Any, None] = {}  # subset: between requests, oldest first
        self._evicted: set[Any] = set()  # subset: shut down, thread still finishing
        self._in_flight = 0
        self._rejected = dict.fromkeys(REJECT_REASONS, 0)

    def admit(self, sock: Any) -> bool:
        """Whether a new connection may be served; called on the listening thread."""
        limits = self.limits
        with self._lock:
            if len(self._open) >= limits.max_connections + limits.eviction_headroom:
                self._rejected["max_connections"] += 1
                return False
            if len(self._open) - len(self._evicted) >= limits.max_connections:
                if not self._waiting:  # every connection is inside a request
                    self._rejected["max_connections"] += 1
                    return False
                self._evict(next(iter(self._waiting)))
            self._open.add(sock)
            self._waiting[sock] = None
        return True

    def _evict(self, victim: Any) -> None:
        del self._waiting[victim]
        self._evicted.add(victim)
        self._rejected["max_connections"] += 1
        # The plain socket's shutdown, also for TLS: it wakes the handler thread blocked
        # in recv (or a handshake) without touching the TLS state it holds. OSError: the
        # client has closed it already.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(victim, socket.SHUT_RDWR)

    def waiting(self, sock: Any) -> bool:
        """The connection waits for its next request; False if it has been closed meanwhile."""
        with self._lock:
            if sock not in self._open or sock in self._evicted:
                return False
            self._waiting.pop(sock, None)
            self._waiting[sock] = None  # to the end: the most recent
        return True

    def busy(self, sock: Any) -> bool:
        """A request has arrived on the connection; False if it has been closed meanwhile."""
        with self._lock:
            if sock in self._evicted:
                return False
            self._waiting.pop(sock, None)
        return True

    def release(self, sock: Any) -> None:
        """The connection's thread is done with it."""
        with self._lock:
            self._open.discard(sock)
            self._waiting.pop(sock, None)
            self._evicted.discard(sock)

    def start_request(self) -> bool:
        """Take a request slot without waiting; False at --web.max-requests."""
        with self._lock:
            if 0 < self.limits.max_requests <= self._in_flight:
                self._rejected["max_requests"] += 1
                return False
            self._in_flight += 1
        return True

    def end_request(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def reject(self, reason: str) -> None:
        with self._lock:
            self._rejected[reason] += 1

    def describe(self) -> Iterator[Metric]:
        return iter([])

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            rejected = dict(self._rejected)
            connections = len(self._open) - len(self._evicted)
            in_flight = self._in_flight
        family = CounterMetricFamily(
            "cleanrooms_exporter_http_requests_rejected",
            "HTTP requests and connections refused or cut off, by reason.",
            labels=["reason"],
        )
        for reason, count in rejected.items():
            family.add_metric([reason], count)
        yield family
        yield _gauge("cleanrooms_exporter_http_connections", "Open HTTP connections.", connections)
        yield _gauge(
            "cleanrooms_exporter_http_requests_in_flight",
            "HTTP requests being served that count against --web.max-requests.",
            in_flight,
        )


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc)
    family.add_metric([], value)
    return family


class DeadlineReader(io.RawIOBase):
    """Socket reads that share one deadline, so a client sending a byte at a time still ends."""

    def __init__(self, sock: socket.socket, timeout: float) -> None:
        super().__init__()
        self._sock = sock
        self.deadline = time.monotonic() + timeout

    def start(self, timeout: float) -> None:
        """A new deadline, ``timeout`` seconds from now."""
        self.deadline = time.monotonic() + timeout

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("read deadline passed")
        self._sock.settimeout(remaining)
        return self._sock.recv_into(buffer)
