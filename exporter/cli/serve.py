"""Serving: the HTTP server, the poller, and the signals that reload or stop them."""

from __future__ import annotations

import logging
import queue
import signal
import socket
import threading
from types import FrameType

from exporter.app import App
from exporter.web.guard import WebGuard
from exporter.web.handlers import ExporterServer, WebApp
from exporter.web.server import ListenError, listen
from exporter.web.statuspage import PageContext, ReloadRecorder, ReloadState
from exporter.web.tlsconfig import WebConfig

log = logging.getLogger("exporter")


class _Signals:
    """Signal handlers only queue the signal; the main loop does the work outside the handler.

    A ``SimpleQueue``, whose ``put`` is reentrant: a handler may run while the main thread is
    inside the queue (an ``Event``'s lock would deadlock there). The main loop waits with a
    timeout because the kernel may deliver a signal to any thread, and Python runs the
    handler only when the main thread next runs: without one a signal can wait forever.
    """

    def __init__(self) -> None:
        self.queue: queue.SimpleQueue[int] = queue.SimpleQueue()

    def install(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.queue.put(signum)

    def next(self, timeout: float = 1.0) -> set[int]:
        """The signals that arrived, waiting up to ``timeout`` for the first one."""
        try:
            arrived = {self.queue.get(timeout=timeout)}
        except queue.Empty:
            return set()
        while not self.queue.empty():  # a burst of SIGHUPs is one reload
            arrived.add(self.queue.get_nowait())
        return arrived


def serve(
    app: App,
    address: tuple[str, int],
    web: WebConfig,
    guard: WebGuard,
    config_file: str | None,
    *,
    listener: socket.socket | None = None,
) -> int:
    reload = ReloadRecorder(app.reload)
    try:
        listener = listener or listen(address)
    except ListenError as err:
        log.error("%s", err)
        return 1
    server = bind(
        address, app, web, guard, reload=reload, config_file=config_file, listener=listener
    )
    signals = _Signals()
    signals.install()
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    app.start()
    host, port = server.server_address[:2]
    log.info("listening on %s:%s, %s", host, port, app.polling_summary())
    while True:
        arrived = signals.next()
        stops = arrived & {signal.SIGTERM, signal.SIGINT}
        if stops:
            log.info("received %s, shutting down", signal.Signals(min(stops)).name)
            break
        if arrived:
            log.info("received SIGHUP, reloading configuration")
            reload()
    server.shutdown()
    app.stop()
    return 0


def bind(
    address: tuple[str, int],
    app: App,
    web: WebConfig,
    guard: WebGuard,
    *,
    reload: ReloadRecorder | None = None,
    config_file: str | None = None,
    listener: socket.socket | None = None,
) -> ExporterServer:
    reload = reload or ReloadRecorder(app.reload)

    def page_context() -> PageContext:
        last_time, last_message = reload.last or (None, "")
        state = ReloadState(config_file, app.reload_ok, app.reload_time, last_time, last_message)
        return PageContext(app.config.trusted_creator_accounts, state)

    handlers = WebApp(app.renderer.render, app.snapshot, reload, app.ready, page_context)
    if ":" in address[0]:
        ExporterServer.address_family = socket.AF_INET6
    return ExporterServer(address, handlers, web, guard, listener)
