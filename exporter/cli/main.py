"""Command line: flags, start-up, wiring, signals and exit codes.

Exit codes: 0 success; 1 a start-up failure (port in use, STS unreachable) or,
with ``--once``, a target that failed; 2 an invalid configuration or flag.
"""

from __future__ import annotations

import argparse
import logging
import queue
import random
import signal
import socket
import sys
import threading
from collections.abc import Sequence
from dataclasses import replace
from types import FrameType

from botocore.exceptions import BotoCoreError, ClientError
from prometheus_client.exposition import generate_latest

from exporter import __version__
from exporter.app import App
from exporter.aws.errors import client_error_code, transport_code
from exporter.collectors import REGISTRY
from exporter.config.collectors import with_overrides
from exporter.config.loader import (
    AccountConfig,
    Config,
    ConfigError,
    load_config,
    parse_duration,
    read_text,
    read_yaml,
)
from exporter.core.logs import FORMATS, LEVELS, setup_logging
from exporter.demo import embedded as demo
from exporter.polling.sharding import resolve_shard, worker_concurrency
from exporter.web.guard import WebGuard, WebLimits
from exporter.web.handlers import ExporterServer, WebApp
from exporter.web.statuspage import PageContext, ReloadRecorder, ReloadState
from exporter.web.tlsconfig import WebConfig, load_web_config

log = logging.getLogger("exporter")

DEFAULT_PORT = 19431


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="cleanrooms-exporter",
        description="Prometheus exporter for AWS Clean Rooms collaborations.",
    )
    parser.add_argument("--config.file", dest="config_file", help="YAML configuration file")
    parser.add_argument(
        "--config.check",
        dest="config_check",
        action="store_true",
        help="validate the configuration and exit (0 valid, 2 invalid); makes no AWS call",
    )
    parser.add_argument(
        "--web.listen-address",
        dest="listen",
        default=f":{DEFAULT_PORT}",
        help=f"host:port to serve on (default :{DEFAULT_PORT}, all IPv4 interfaces)",
    )
    parser.add_argument(
        "--web.config.file",
        dest="web_config_file",
        help="TLS and basic-auth settings in the exporter-toolkit format",
    )
    parser.add_argument(
        "--web.read-timeout",
        dest="web_read_timeout",
        default="5s",
        help="time for a client to send a whole request, from its first byte or from "
        "connecting (default 5s)",
    )
    parser.add_argument(
        "--web.idle-timeout",
        dest="web_idle_timeout",
        default="1m",
        help="how long a keep-alive connection may wait for its next request (default 1m)",
    )
    parser.add_argument(
        "--web.max-requests",
        dest="web_max_requests",
        type=int,
        default=40,
        help="requests served at once, beyond which the answer is 503 at once; probes of "
        "/-/healthy and /-/ready do not count (default 40, 0 for no limit)",
    )
    parser.add_argument(
        "--web.max-connections",
        dest="web_max_connections",
        type=int,
        default=512,
        help="open connections; beyond it the one waiting longest for a request is closed "
        "(default 512)",
    )
    parser.add_argument(
        "--shard.count",
        dest="shard_count",
        type=int,
        help="replicas sharing the accounts (overrides sharding.count; default 1)",
    )
    parser.add_argument(
        "--shard.index",
        dest="shard_index",
        help="this replica's shard, 0-based, or auto for the StatefulSet pod ordinal "
        "(from POD_NAME or HOSTNAME; overrides sharding.index)",
    )
    parser.add_argument("--log.level", dest="log_level", choices=LEVELS, default="info")
    parser.add_argument("--log.format", dest="log_format", choices=FORMATS, default="logfmt")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="run against an embedded simulated Clean Rooms (needs the demo extra); no AWS account",
    )
    parser.add_argument(
        "--demo.poll-interval",
        dest="demo_poll_interval",
        default="15s",
        help="poll interval of the demo (default 15s)",
    )
    parser.add_argument(
        "--demo.throttle-ratio",
        dest="demo_throttle_ratio",
        type=float,
        default=0.03,
        help="share of demo Clean Rooms requests answered with HTTP 429 (default 0.03)",
    )
    parser.add_argument(
        "--once",
        action="store_true",
        help="poll every target once with every enabled collector, print the metrics, "
        "exit 0 if all succeeded, else 1",
    )
    _add_collector_flags(parser)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser.parse_args(argv)


def _add_collector_flags(parser: argparse.ArgumentParser) -> None:
    """``--collector.NAME`` / ``--no-collector.NAME`` per optional collector (node_exporter's)."""
    group = parser.add_argument_group("collectors (flags override collectors.NAME.enabled)")
    for spec in REGISTRY:
        if spec.primary:
            continue  # always on
        default = "on" if spec.default_enabled else "off"
        dest = f"collector_{spec.name}"
        group.add_argument(
            f"--collector.{spec.name}",
            dest=dest,
            action="store_const",
            const=True,
            help=f"{spec.doc} (default {default})",
        )
        group.add_argument(
            f"--no-collector.{spec.name}", dest=dest, action="store_const", const=False
        )


def collector_overrides(args: argparse.Namespace) -> dict[str, bool]:
    """The collectors a flag switched on or off."""
    overrides = {}
    for spec in REGISTRY:
        value = getattr(args, f"collector_{spec.name}", None)
        if value is not None:
            overrides[spec.name] = bool(value)
    return overrides


def parse_listen_address(text: str) -> tuple[str, int]:
    """``host:port``, ``:port`` or ``[v6]:port`` to a bind address."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--web.listen-address: expected host:port, got {text!r}")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 (exporters listen on all by default)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    try:
        address = parse_listen_address(args.listen)
        web = load_web_config(args.web_config_file) if args.web_config_file else WebConfig()
        guard = WebGuard(web_limits(args))
        config, world = _load(args)
    except (ConfigError, ValueError) as err:
        print(f"cleanrooms-exporter: {err}", file=sys.stderr)
        return 2
    if args.config_check:
        return _check(config, None if world else args.config_file)
    try:
        # A reload re-reads the file and applies the same flags again.
        source = None if world else (lambda: _with_shard_flags(load_config(args.config_file), args))
        app = App(config, source, extra_collectors=[guard])
    except ConfigError as err:
        print(f"cleanrooms-exporter: {err}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as err:
        log.error("cannot resolve account ids at start-up: %s", err, extra=_error_fields(err))
        return 1
    if world is not None:
        _start_demo_changes(world)
    if args.once:
        return _run_once(app)
    return _serve(app, address, web, guard, None if world else args.config_file)


def web_limits(args: argparse.Namespace) -> WebLimits:
    """The --web.* bounds; ``ValueError`` names the flag at fault."""
    timeouts = {}
    for flag, text in (("read", args.web_read_timeout), ("idle", args.web_idle_timeout)):
        try:
            timeouts[flag] = parse_duration(text)
        except ValueError as err:
            raise ValueError(f"--web.{flag}-timeout: {err}") from err
        if timeouts[flag] <= 0:
            raise ValueError(f"--web.{flag}-timeout must be above 0")
    if args.web_max_requests < 0:
        raise ValueError("--web.max-requests must be 0 (no limit) or more")
    if args.web_max_connections < 1:
        raise ValueError("--web.max-connections must be 1 or more")
    return WebLimits(
        read_timeout=timeouts["read"],
        idle_timeout=timeouts["idle"],
        max_requests=args.web_max_requests,
        max_connections=args.web_max_connections,
    )


def _error_fields(err: BotoCoreError | ClientError) -> dict[str, str]:
    """The ``operation`` and ``error_code`` log fields of a failed AWS call."""
    if isinstance(err, ClientError):
        return {"operation": err.operation_name, "error_code": client_error_code(err)}
    return {"error_code": transport_code(err)}


def _load(args: argparse.Namespace) -> tuple[Config, demo.DemoWorld | None]:
    if not args.demo:
        return _with_shard_flags(load_config(args.config_file), args), None
    if args.config_file:
        raise ValueError("--demo runs its own configuration; drop --config.file")
    interval = parse_duration(args.demo_poll_interval)
    demo.isolate_credentials()
    if not 0 <= args.demo_throttle_ratio <= 1:
        raise ValueError("--demo.throttle-ratio must be between 0 and 1")
    world = demo.start_world(args.demo_throttle_ratio)
    log.info("demo: simulated Clean Rooms at %s", world.endpoint_url)
    return _with_shard_flags(demo.demo_config(world.endpoint_url, interval), args), world


def _check(config: Config, path: str | None) -> int:
    """--config.check: everything that can be judged without AWS or the pod's name."""
    sharding = config.sharding
    if sharding.index != "auto":
        try:
            resolve_shard(sharding.index, sharding.count, {})
        except ValueError as err:
            print(
                f"cleanrooms-exporter: {ConfigError([f'sharding: {err}'], path)}", file=sys.stderr
            )
            return 2
    targets = sum(len(a.regions) for a in config.accounts)
    discovery = " plus discovered accounts" if config.discovery else ""
    print(f"configuration valid: {len(config.accounts)} accounts, {targets} targets{discovery}")
    for line in _check_details(config, path):
        print(line)
    enabled = ", ".join(f"{s.name} (every {s.interval:g}s)" for s in config.schedules())
    print(f"collectors enabled: {enabled}")
    if config.poll_workers > 1:
        threads = worker_concurrency(config.concurrency, config.poll_workers)
        print(f"poll workers: {config.poll_workers} processes, {threads} threads each")
    return 0


def _check_details(config: Config, path: str | None) -> list[str]:
    """What --config.check prints after its verdict: each account, and which defaults apply."""
    lines = [f"  accounts[{i}] {_describe_account(a)}" for i, a in enumerate(config.accounts)]
    if config.discovery:
        lines.append(f"  plus every ACTIVE account AWS Organizations lists, in {_regions(config)}")
    if path is None:
        lines.append(
            "note: no --config.file: polling the default credential chain's own account in "
            f"{_regions(config)} (AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1)"
        )
        return lines
    # The file is valid, so reading it again only tells which keys it sets.
    keys = set(read_yaml(read_text(path)))
    if "accounts" not in keys and not config.discovery:
        lines.append(
            "note: the file lists no accounts: polling the default credential chain's own "
            "account (environment, shared config, container or instance role), a default"
        )
    if "regions" not in keys:
        lines.append(f"note: the file sets no regions: using {_regions(config)}, a default")
    return lines


def _describe_account(account: AccountConfig) -> str:
    who = account.id or "(id from sts:GetCallerIdentity)"
    name = f" {account.name!r}" if account.name else ""
    return f"{who}{name} via {account.source}: {', '.join(account.regions)}"


def _regions(config: Config) -> str:
    return ", ".join(config.regions)


def _with_shard_flags(config: Config, args: argparse.Namespace) -> Config:
    """Flags win over the config file, like Prometheus' own flags: shards and collectors."""
    collectors = with_overrides(config.collectors, collector_overrides(args))
    config = replace(config, collectors=collectors)
    sharding = config.sharding
    if args.shard_count is not None:
        sharding = replace(sharding, count=args.shard_count)
    if args.shard_index is not None:
        index = args.shard_index
        sharding = replace(sharding, index=int(index) if index.isdigit() else index)
    return replace(config, sharding=sharding)


def _start_demo_changes(world: demo.DemoWorld) -> None:
    stop = threading.Event()
    simulation = demo.Simulation(random.Random(), fake=world.fake)
    threading.Thread(target=simulation.run, args=(stop,), name="demo-changes", daemon=True).start()
    threading.Thread(
        target=simulation.run_analyses, args=(stop,), name="demo-analyses", daemon=True
    ).start()


def _run_once(app: App) -> int:
    app.start()
    app.wait_ready()
    app.stop()
    sys.stdout.write(generate_latest(app.registry).decode("utf-8"))
    snapshot = app.poller.snapshot
    states = [*snapshot.states.values()]
    states += [s for collector in snapshot.collectors.values() for s in collector.values()]
    return 0 if all(state.up for state in states) else 1


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


def _serve(
    app: App, address: tuple[str, int], web: WebConfig, guard: WebGuard, config_file: str | None
) -> int:
    reload = ReloadRecorder(app.reload)
    try:
        server = _bind(address, app, web, guard, reload=reload, config_file=config_file)
    except OSError as err:
        log.error("cannot listen on %s:%d: %s", *address, err.strerror or err)
        return 1
    signals = _Signals()
    signals.install()
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    app.start()
    host, port = server.server_address[:2]
    log.info(
        "listening on %s:%s, polling %d targets every %gs",
        host,
        port,
        app.target_count,
        app.config.poll_interval,
    )
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


def _bind(
    address: tuple[str, int],
    app: App,
    web: WebConfig,
    guard: WebGuard,
    *,
    reload: ReloadRecorder | None = None,
    config_file: str | None = None,
) -> ExporterServer:
    reload = reload or ReloadRecorder(app.reload)

    def page_context() -> PageContext:
        last_time, last_message = reload.last or (None, "")
        state = ReloadState(config_file, app.reload_ok, app.reload_time, last_time, last_message)
        return PageContext(app.config.trusted_creator_accounts, state)

    handlers = WebApp(
        app.renderer.render, lambda: app.poller.snapshot, reload, app.ready, page_context
    )
    if ":" in address[0]:
        ExporterServer.address_family = socket.AF_INET6
    return ExporterServer(address, handlers, web, guard)
