"""Serving: the HTTP server, the poller, and the signals that reload or stop them."""

from __future__ import annotations

import logging
import signal
import socket
import threading

from exporter.app import App
from exporter.cli.signals import Signals
from exporter.web.guard import WebGuard
from exporter.web.handlers import ExporterServer, WebApp
from exporter.web.server import ListenError, listen
from exporter.web.statuspage import PageContext, ReloadRecorder, ReloadState
from exporter.web.tlsconfig import WebConfig

log = logging.getLogger("exporter")


def serve(
    app: App,
    address: tuple[str, int],
    web: WebConfig,
    guard: WebGuard,
    config_file: str | None,
    *,
    listener: socket.socket | None = None,
    signals: Signals | None = None,
) -> int:
    """Serve until SIGTERM or SIGINT; ``signals``: the handlers, if installed earlier."""
    reload = ReloadRecorder(app.reload)
    try:
        listener = listener or listen(address)
    except ListenError as err:
        log.error("%s", err)
        return 1
    server = bind(
        address, app, web, guard, reload=reload, config_file=config_file, listener=listener
    )
    signals = signals or Signals().install()
    signals.serving()
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
    # Both at once: the server's loop notices its shutdown within half a second while
    # polls in flight get the poller's grace, and together they fit the two seconds a
    # stop may take (docs/operations.md).
    closing = threading.Thread(target=server.shutdown, name="http-shutdown", daemon=True)
    closing.start()
    app.stop()
    closing.join()
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

    handlers = WebApp(app.renderer.render_parts, app.snapshot, reload, app.ready, page_context)
    if ":" in address[0]:
        ExporterServer.address_family = socket.AF_INET6
    return ExporterServer(address, handlers, web, guard, listener)
