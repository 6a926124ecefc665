"""The command line's entry point: flags, start-up, ``--once``, and exit codes.

Exit codes: 0 success (a stop by SIGTERM or SIGINT too); 1 a start-up failure (the port
in use), a failed preflight or, with ``--once``, a target that failed; 2 an invalid
configuration or flag; 128 + the signal's number when a signal ends ``--once`` or a check.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import socket
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from prometheus_client.exposition import generate_latest

from exporter.app import App
from exporter.cli.check import check, load_files
from exporter.cli.flags import parse_args
from exporter.cli.preflight import preflight
from exporter.cli.serve import serve
from exporter.cli.signals import Signals
from exporter.config import Config, ConfigError, load_config
from exporter.config.flags import with_collector_flags
from exporter.config.parser import parse_interval
from exporter.core.logs import setup_logging
from exporter.polling.flags import with_shard_flags
from exporter.web.flags import parse_listen_address, web_limits
from exporter.web.guard import WebGuard
from exporter.web.server import ListenError, listen

if TYPE_CHECKING:
    from exporter.demo.embedded import DemoWorld

__all__ = ["main", "parse_args", "web_limits"]
log = logging.getLogger("exporter")
# moto is the optional demo extra; the default container image leaves it out.
NO_DEMO_EXTRA = (
    "--demo needs the demo extra, which this installation lacks: "
    "pip install 'cleanrooms-exporter[demo]', or build the container image with "
    "--build-arg EXTRAS=auth,demo (as examples/demo-stack does)"
)


def main(argv: Sequence[str] | None = None, signals: Signals | None = None) -> int:
    """Run the command; ``signals``: the handlers the command installed first, if it did."""
    args = parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    if signals is not None and (args.once or args.config_check or args.check_aws):
        signals.one_shot()
    try:
        address = parse_listen_address(args.listen)
    except ValueError as err:
        print(f"cleanrooms-exporter: {err}", file=sys.stderr)
        return 2
    serving = not (args.config_check or args.check_aws or args.once)
    try:
        # Before the slow start-up (the demo world, the clients): a port in use fails at once.
        listener = listen(address) if serving else None
    except ListenError as err:
        log.error("%s", err)
        return 1
    try:
        return _run(args, address, listener, signals)
    finally:
        if listener is not None:
            listener.close()


def _run(
    args: argparse.Namespace,
    address: tuple[str, int],
    listener: socket.socket | None,
    signals: Signals | None,
) -> int:
    try:
        guard = WebGuard(web_limits(args))
        checking = args.config_check or args.check_aws
        files = (args.config_file, args.web_config_file, checking)
        config, world, web = load_files(lambda: _load(args), *files)
    except (ConfigError, ValueError) as err:
        print(f"cleanrooms-exporter: {err}", file=sys.stderr)
        return 2
    if args.config_check or args.check_aws:
        verdict = check(config, None if world else args.config_file, demo=world is not None)
        return preflight(config) if verdict == 0 and args.check_aws else verdict
    try:
        # A reload re-reads the file and applies the same flags again.
        source = None if world else (lambda: _with_flags(load_config(args.config_file), args))
        app = App(config, source, extra_collectors=[guard])
    except ConfigError as err:
        print(f"cleanrooms-exporter: {err}", file=sys.stderr)
        return 2
    if world is not None:
        world.start_changes()
    if args.once:
        return _run_once(app)
    config_file = None if world else args.config_file
    return serve(app, address, web, guard, config_file, listener=listener, signals=signals)


def _load(args: argparse.Namespace) -> tuple[Config, DemoWorld | None]:
    if not args.demo:
        return _with_flags(load_config(args.config_file), args), None
    if args.config_file:
        raise ValueError("--demo runs its own configuration; drop --config.file")
    if importlib.util.find_spec("moto") is None:
        raise ValueError(NO_DEMO_EXTRA)
    interval = parse_interval(args.demo_poll_interval, "--demo.poll-interval")
    # Imported only for the demo: it loads the fake's service models, a slow start otherwise.
    from exporter.demo import embedded as demo  # noqa: PLC0415

    demo.isolate_credentials()
    if not 0 <= args.demo_throttle_ratio <= 1:
        raise ValueError("--demo.throttle-ratio must be between 0 and 1")
    world = demo.start_world(args.demo_throttle_ratio)
    log.info("demo: simulated Clean Rooms at %s", world.endpoint_url)
    return _with_flags(demo.demo_config(world.endpoint_url, interval), args), world


def _with_flags(config: Config, args: argparse.Namespace) -> Config:
    """Flags win over the config file, like Prometheus' own flags: shards and collectors."""
    return with_shard_flags(with_collector_flags(config, args), args)


def _run_once(app: App) -> int:
    app.start()
    app.wait_ready()
    app.stop()
    sys.stdout.write(generate_latest(app.registry).decode("utf-8"))
    snapshot = app.snapshot()
    states = [*snapshot.states.values()]
    states += [s for collector in snapshot.collectors.values() for s in collector.values()]
    return 0 if all(state.up for state in states) else 1
