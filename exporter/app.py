"""Wiring of one running exporter, and configuration reload that keeps counters."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from exporter.aws import AwsClients, credential_key
from exporter.collector import CleanRoomsCollector, CollectorSettings
from exporter.config import AccountConfig, Config, ConfigError, load_config
from exporter.exposition import ExpositionRenderer
from exporter.model import Target, TargetKey
from exporter.poller import Poller
from exporter.stats import ApiStats
from exporter.targets import TargetPoller, build_targets

log = logging.getLogger(__name__)

ConfigSource = Callable[[], Config]


def collector_settings(config: Config) -> CollectorSettings:
    return CollectorSettings(
        stale_after=config.stale_after,
        per_collaboration_metrics=config.per_collaboration_metrics,
        trusted_creator_accounts=config.trusted_creator_accounts,
    )


class App:
    """Owns the clients, the poller and the registry; ``reload()`` swaps the config in place."""

    def __init__(
        self,
        config: Config,
        config_source: ConfigSource | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._source = config_source
        self._clock = clock
        self._reload_lock = threading.Lock()
        self.stats = ApiStats()
        self.clients = AwsClients(config.aws, self.stats)
        targets = build_targets(config, self.clients)  # may raise: start-up fails
        self.poller = Poller(
            self._poll_function(config, targets), config.poll_interval, config.concurrency
        )
        self.poller.set_targets(t for t, _ in targets.values())
        self.config = config
        self.settings = collector_settings(config)
        self.reload_ok = True
        self.reload_time = clock()
        collector = CleanRoomsCollector(
            lambda: self.poller.snapshot, self.stats, lambda: self.settings
        )
        reload_collector = _ReloadCollector(self)
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(collector)
        self.registry.register(reload_collector)
        # /metrics goes through the renderer: same bytes as the registry, cached per poll.
        self.renderer = ExpositionRenderer(collector, [reload_collector])

    def _poll_function(
        self, config: Config, targets: dict[TargetKey, tuple[Target, AccountConfig]]
    ) -> TargetPoller:
        accounts = {key: account for key, (_, account) in targets.items()}
        return TargetPoller(
            self.clients, accounts, self.stats, config.member_status, config.max_pages_per_poll
        )

    def reload(self) -> tuple[bool, str]:
        """Re-read the configuration; on any problem keep the running one. Returns (ok, why)."""
        if self._source is None:
            return False, "nothing to reload: the demo runs a built-in configuration"
        with self._reload_lock:
            try:
                config = self._source()
                self._apply(config)
            except (ConfigError, BotoCoreError, ClientError) as err:
                self.reload_ok = False
                reason = " ".join(str(err).split())
                log.error("config reload failed, keeping the running configuration: %s", reason)
                return False, reason
            self.reload_ok = True
            self.reload_time = self._clock()
        count = len(self.poller.snapshot.states)
        log.info("configuration reloaded: %d targets", count)
        return True, f"reloaded: {count} targets"

    def _apply(self, config: Config) -> None:
        clients = self.clients
        if config.aws != self.config.aws:
            clients = AwsClients(config.aws, self.stats)
        old_clients, self.clients = self.clients, clients
        try:
            targets = build_targets(config, clients)
        except BaseException:
            self.clients = old_clients
            raise
        self.poller.reconfigure(
            self._poll_function(config, targets), config.poll_interval, config.concurrency
        )
        self.poller.set_targets(t for t, _ in targets.values())
        self.stats.retain(targets)
        clients.retain({(credential_key(a, t.account_id), t.region) for t, a in targets.values()})
        self.config = config
        self.settings = collector_settings(config)


def file_source(path: str | Path | None) -> ConfigSource:
    """Reload from the file given at start-up (or the defaults when there was none)."""
    return lambda: load_config(path)


class _ReloadCollector(Collector):
    """The two reload series, named after Prometheus's own."""

    def __init__(self, app: App) -> None:
        self._app = app

    def describe(self) -> Iterator[Metric]:
        return iter([])

    def collect(self) -> Iterator[Metric]:
        ok = GaugeMetricFamily(
            "cleanrooms_exporter_config_last_reload_successful",
            "1 if the last configuration load (start-up or reload) succeeded.",
        )
        ok.add_metric([], 1.0 if self._app.reload_ok else 0.0)
        when = GaugeMetricFamily(
            "cleanrooms_exporter_config_last_reload_success_timestamp_seconds",
            "Unix time of the last successful configuration load.",
        )
        when.add_metric([], self._app.reload_time)
        yield from (ok, when)
