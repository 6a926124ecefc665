"""Wiring of one running exporter: targets from config and discovery, reload, readiness."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType

from prometheus_client.registry import Collector, CollectorRegistry

from exporter.aws.clients import ORGANIZATIONS_REGION
from exporter.aws.discovery import Discoverer, discover
from exporter.aws.error_codes import SDK_ERRORS
from exporter.collectors import PRIMARY
from exporter.config import AccountConfig, Config, ConfigError
from exporter.core import memory
from exporter.core.gate import ScrapeGate
from exporter.core.logs import format_tb
from exporter.core.model import DiscoveryStatus, Snapshot, TargetKey
from exporter.core.series import DETAILS
from exporter.core.stats import ApiStats, ApiStatsView, StatsSource, merge_views
from exporter.metrics.exporter_state import (
    ExporterState,
    ExporterStateCollector,
    ScheduleLagCollector,
    WorkerPoolCollector,
)
from exporter.metrics.exposition import ExpositionRenderer
from exporter.metrics.scrape import ScrapeSettings, SnapshotMetrics
from exporter.polling.cores import resolve_workers
from exporter.polling.jobs import Wiring, clients_change, new_clients
from exporter.polling.poller import Poller
from exporter.polling.pool import WorkerPool, log_settings
from exporter.polling.resolver import AccountResolver
from exporter.polling.sharding import Shard, resolve_shard
from exporter.polling.targets import build_targets

log = logging.getLogger(__name__)
# What a reload or discovered accounts may fail with: the file, or the AWS SDK.
RELOAD_ERRORS: tuple[type[Exception], ...] = (ConfigError, *SDK_ERRORS)


ConfigSource = Callable[[], Config]
# What Prometheus asks for. The text format (curl, a browser) is cached on its first
# scrape: warming it too would double the cache's memory for a reader that may never come.
WARM_FORMATS = ("application/openmetrics-text; version=1.0.0",)


def collector_settings(config: Config) -> ScrapeSettings:
    schedules = config.schedules()
    return ScrapeSettings(
        stale_after=config.stale_after,
        per_collaboration_metrics=config.per_collaboration_metrics,
        trusted_creator_accounts=config.trusted_creator_accounts,
        collectors=tuple(s for s in schedules if s.name != PRIMARY.name),
        allow=config.metrics.allow,
        deny=config.metrics.deny,
        detail=tuple((s.name, s.detail) for s in schedules if s.detail != DETAILS[0]),
    )


def shard_of_config(config: Config, env: Mapping[str, str]) -> Shard:
    try:
        return resolve_shard(config.sharding.index, config.sharding.count, env)
    except ValueError as err:
        raise ConfigError([f"sharding: {err}"]) from err


class App:
    """Owns the clients, the poller, discovery and the registry."""

    def __init__(
        self,
        config: Config,
        config_source: ConfigSource | None = None,
        clock: Callable[[], float] = time.time,
        env: Mapping[str, str] | None = None,
        extra_collectors: Sequence[Collector] = (),
    ) -> None:
        memory.return_large_buffers()  # scrape bodies at scale: tens of MB each
        self._source = config_source
        self._clock = clock
        self._env = os.environ if env is None else env
        self._lock = threading.Lock()  # one reload or discovery change at a time
        self.stats = ApiStats()
        self.shard = shard_of_config(config, self._env)
        # Scrapes close it while they render; poll threads wait on it before requests.
        self.gate = ScrapeGate()
        self.clients = new_clients(config, self.stats, config.concurrency, self.gate)
        self.discovered: list[AccountConfig] = []
        targets, unresolved = build_targets(
            config.accounts, self.clients, shard=self.shard, quotas=config.quotas
        )
        self._target_count = len(targets)
        # Ids to ask STS for, in the background: start-up never waits for AWS.
        self.resolver = AccountResolver(
            self.clients.resolve_account_id, config.poll_interval, self._on_resolved
        )
        self.resolver.set(unresolved, config.poll_interval)
        self.pool: WorkerPool | None = None
        self.poller: Poller | WorkerPool
        self.workers = resolve_workers(config.poll_workers)  # auto: fixed at start-up
        if self.workers > 1:
            self.pool = self.poller = WorkerPool(self.workers, *log_settings())
            self.pool.configure(config, targets)
        else:
            wiring = Wiring(self.clients, self.stats, config, targets)
            self.poller = wiring.poller(config.concurrency)
        self.config = config
        self.settings = collector_settings(config)
        self.reload_ok = True
        self.reload_time = clock()
        self.discoverer: Discoverer | None = None
        self._became_ready = False
        self._discovery_key: TargetKey | None = None
        self._stopped = threading.Event()
        self.warmed = threading.Event()  # set once the first rendering is cached
        self._register(extra_collectors)

    def _register(self, extra_collectors: Sequence[Collector]) -> None:
        stats: StatsSource = self.stats if self.pool is None else _MergedStats(self)
        extra = [
            ExporterStateCollector(self.state),
            ScheduleLagCollector(self.poller.lags),
            *extra_collectors,  # the web server's own counters, for one
        ]
        if self.pool is not None:
            extra.append(WorkerPoolCollector(self.pool.status))
        collector = SnapshotMetrics(self.snapshot, stats, lambda: self.settings, extra=extra)
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(collector)
        # /metrics goes through the renderer: same bytes as the registry, cached per poll.
        self.renderer = ExpositionRenderer(collector, self.gate)

    def snapshot(self) -> Snapshot:
        """What polling knows, plus the placeholder targets of accounts without an id yet."""
        snapshot = self.poller.snapshot
        pending = self.resolver.states()
        if not pending:
            return snapshot
        states = MappingProxyType({**snapshot.states, **pending})
        return Snapshot(states, snapshot.collectors, snapshot.primary or PRIMARY.name)

    def state(self) -> ExporterState:
        """The exporter's own state for its series: loads, shard, discovery."""
        discoverer = self.discoverer  # read once: a reload may replace it
        return ExporterState(
            self.reload_ok,
            self.reload_time,
            self.shard.index,
            self.shard.count,
            discoverer.status if discoverer is not None else None,
        )

    def start(self) -> None:
        """Start polling, and discovery when configured (its first run in the background)."""
        self.poller.start()
        self.resolver.start()
        self._start_discovery(self.config)
        threading.Thread(target=self._warm, name="render-warm-up", daemon=True).start()

    def _warm(self) -> None:
        """Once ready, render once for Prometheus, so its first scrapes are not the cold ones.

        The first rendering of every (collector, target) goes through the library's
        encoder: seconds at organisation scale. Later scrapes re-format only what polls
        changed.
        """
        while not self._stopped.is_set():
            if self.wait_ready(1.0):
                try:
                    for accept in WARM_FORMATS:
                        self.renderer.render_parts(accept, hold_polls=False)
                except Exception:  # a scrape will render (and report) it again
                    log.exception("warming the /metrics cache failed")
                self.warmed.set()
                return

    def stop(self) -> None:
        self._stopped.set()
        if self.discoverer is not None:
            self.discoverer.stop()
        self.resolver.stop()
        self.poller.stop()

    def ready(self) -> bool:
        """Discovery tried once (if configured) and every target polled once; then for good.

        Targets added later by a reload or a discovery refresh do not make a serving
        replica unready (that would pull it out of its Service for no gain).
        """
        if not self._became_ready:
            discoverer = self.discoverer  # read once: a reload may replace it
            discovery_done = discoverer is None or discoverer.attempted.is_set()
            self._became_ready = discovery_done and self._polled()
        return self._became_ready

    def _polled(self) -> bool:
        # A pool's snapshot is empty, so "ready", until its workers first report.
        polled = self.pool.ready if self.pool is not None else self.poller.snapshot.ready
        return polled and all(s.polled for s in self.resolver.states().values())

    @property
    def target_count(self) -> int:
        """Targets of the running configuration (a pool's arrive in its snapshot later)."""
        return self._target_count

    def polling_summary(self) -> str:
        """``polling N targets every Xs``, and with none, why: what a first look needs."""
        text = f"polling {self.target_count} targets every {self.config.poll_interval:g}s"
        if self.target_count:
            return text
        discoverer = self.discoverer  # read once: a reload may replace it
        known = {self.clients.known_account_id(a) for a in self.config.accounts} - {None}
        known |= {a.id for a in self.discovered if a.id}
        reasons = no_target_reasons(
            waiting=len({key[0] for key in self.resolver.states()}),
            discovery=None if discoverer is None else discoverer.status,
            discovering=self.config.discovery is not None
            and (discoverer is None or not discoverer.attempted.is_set()),
            known=len(known),
            shard=self.shard,
        )
        return f"{text}: {'; '.join(reasons)}" if reasons else text

    def wait_ready(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        discoverer = self.discoverer
        if discoverer is not None:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not discoverer.attempted.wait(remaining):
                return False
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not self.poller.wait_ready(remaining):
            return False
        # An account without an id yet counts once its first look-up has answered, and
        # one found meanwhile once its targets have polled.
        while not self._polled():
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def _on_resolved(self) -> None:
        """An account's id is known: its targets replace its placeholders."""
        with self._lock:
            self._apply(self.config, self.discovered)

    def _start_discovery(self, config: Config) -> None:
        settings = config.discovery
        if settings is None:
            return

        def run() -> list[AccountConfig]:
            client, account_id = self.clients.organizations(settings)
            self._discovery_key = (account_id, ORGANIZATIONS_REGION)
            with self.clients.acting_for(self._discovery_key):
                return discover(client, settings, config.regions)

        discoverer = Discoverer(
            run,
            settings.refresh_interval,
            lambda accounts: self._on_discovered(discoverer, accounts),
        )
        self.discoverer = discoverer
        discoverer.start()

    def _on_discovered(self, source: Discoverer, accounts: list[AccountConfig]) -> None:
        with self._lock:
            if source is not self.discoverer:
                return  # a run of settings a reload has replaced since it started
            try:
                self._apply(self.config, accounts)
            except RELOAD_ERRORS as err:
                log.error("cannot apply discovered accounts: %s", " ".join(str(err).split()))
                return
            self.discovered = accounts
        log.info(
            "discovery: %d accounts, %d targets on this shard",
            len(accounts),
            self.target_count,
        )

    def reload(self) -> tuple[bool, str]:
        """Re-read the configuration; on any problem keep the running one. Returns (ok, why)."""
        if self._source is None:
            return False, "nothing to reload: the demo runs a built-in configuration"
        with self._lock:
            try:
                config = self._source()
                self._reload(config)
            except RELOAD_ERRORS as err:
                return self._reload_failed(_problems(err))
            except Exception as err:  # SIGHUP and POST /-/reload must never kill the exporter
                log.error("reload: unexpected %s\n%s", type(err).__name__, format_tb(err))
                return self._reload_failed(f"unexpected {type(err).__name__}")
            self.reload_ok = True
            self.reload_time = self._clock()
        count = self.target_count
        log.info("configuration reloaded: %s", self.polling_summary())
        return True, f"reloaded: {count} targets"

    def _reload_failed(self, reason: str) -> tuple[bool, str]:
        """Each problem on a line of its own: in the answer, the log field and the page."""
        self.reload_ok = False
        log.error("config reload failed, keeping the running configuration: %s", reason)
        return False, reason

    def _reload(self, config: Config) -> None:
        shard = shard_of_config(config, self._env)
        workers = resolve_workers(config.poll_workers)
        if workers != self.workers:
            raise ConfigError(
                [
                    f"poll_workers: {self.workers} -> {workers} "
                    "needs a restart; the running configuration is kept"
                ]
            )
        old = self.clients, self.shard
        if clients_change(self.config, config):
            self.clients = new_clients(config, self.stats, config.concurrency, self.gate)
        self.shard = shard
        try:
            # The last good discovery stays until the new settings' first run replaces it.
            self._apply(config, self.discovered if config.discovery else [])
        except BaseException:
            self.clients, self.shard = old
            raise
        if config.discovery != self.config.discovery or config.regions != self.config.regions:
            if self.discoverer is not None:
                self.discoverer.stop()
                self.discoverer = None
            self._start_discovery(config)
        if config.discovery is None:
            self._discovery_key = None
        self.config = config
        self.settings = collector_settings(config)

    def _apply(self, config: Config, discovered: list[AccountConfig]) -> None:
        """Point the poller at the targets of ``config`` plus ``discovered`` (lock held)."""
        targets, unresolved = build_targets(
            config.accounts, self.clients, discovered, self.shard, config.quotas
        )
        self._target_count = len(targets)
        self.resolver.set(unresolved, config.poll_interval)
        keep = {self._discovery_key} if self._discovery_key else set()
        if isinstance(self.poller, Poller):
            wiring = Wiring(self.clients, self.stats, config, targets)
            wiring.aim(self.poller, config.concurrency, keep)
            return
        self.poller.configure(config, targets)
        # This process only counts discovery and account-id look-ups; workers the rest.
        self.stats.retain(keep)
        self.clients.retain(set(), keep)


def no_target_reasons(
    *, waiting: int, discovery: DiscoveryStatus | None, discovering: bool, known: int, shard: Shard
) -> list[str]:
    """Why a replica polls no target: accounts whose id STS has not told yet, discovery
    still running (or finding nothing), every account on another shard, or none at all."""
    reasons = []
    if waiting:
        who = "1 account waits" if waiting == 1 else f"{waiting} accounts wait"
        reasons.append(f"{who} for sts:GetCallerIdentity to tell its id")
    if discovering:
        reasons.append("discovery of the organization's accounts is still running")
    elif discovery is not None and not known and not waiting:
        found = "found no ACTIVE account" if discovery.up else "failed (cleanrooms_discovery_up)"
        reasons.append(f"discovery {found}")
    if known and shard.count > 1:
        accounts = "the 1 account" if known == 1 else f"the {known} accounts"
        reasons.append(f"shard {shard.index} of {shard.count} owns none of {accounts}")
    if not (reasons or known or waiting or discovery):
        reasons.append("no accounts configured")
    return reasons


def _problems(err: Exception) -> str:
    """A rejected configuration's problems, one a line; anything else on one line."""
    if isinstance(err, ConfigError):
        return str(err)
    return " ".join(str(err).split())


class _MergedStats:
    """API tallies of the poll workers plus this process's own (discovery)."""

    def __init__(self, app: App) -> None:
        self._app = app

    def view(self) -> ApiStatsView:
        pool = self._app.pool
        assert pool is not None
        return merge_views([pool.view(), self._app.stats.view()])
