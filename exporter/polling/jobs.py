"""Build a poller's jobs from the configuration and the targets (in-process or in a worker)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from exporter.aws.clients import AwsClients, credential_key
from exporter.collectors import BY_NAME
from exporter.collectors.base import CollectorSpec
from exporter.config import Config
from exporter.core.gate import ScrapeGate
from exporter.core.model import TargetKey
from exporter.core.stats import ApiStats
from exporter.polling.poller import CollectorJob, Poller
from exporter.polling.targets import PollSettings, TargetPoller, Targets


@dataclass(frozen=True)
class Wiring:
    """What every poll function of one configuration shares."""

    clients: AwsClients
    stats: ApiStats
    config: Config
    targets: Targets

    def poll_function(
        self, spec: CollectorSpec[Any], options: tuple[tuple[str, float], ...] = ()
    ) -> TargetPoller:
        accounts = {key: account for key, (_, account) in self.targets.items()}
        return TargetPoller(
            self.clients,
            accounts,
            self.stats,
            spec,
            PollSettings(self.config.member_status, self.config.max_pages_per_poll),
            options=dict(options),
        )

    def collector_jobs(self) -> list[CollectorJob]:
        """Every enabled collector, each on its own schedule, the primary among them."""
        jobs = []
        for schedule in self.config.schedules():
            spec = BY_NAME[schedule.name]
            poll = self.poll_function(spec, schedule.options)
            jobs.append(
                CollectorJob(
                    spec.name,
                    poll,
                    schedule.interval,
                    spec.polling.operations[0],
                    fans_out_from=spec.polling.fans_out_from,
                    primary=spec.polling.primary,
                )
            )
        return jobs

    def poller(self, concurrency: int, **kwargs: Any) -> Poller:
        """A new poller of this configuration's collectors and targets (not started)."""
        poller = Poller(self.collector_jobs(), concurrency, **kwargs)
        poller.set_targets(t for t, _ in self.targets.values())
        return poller

    def aim(self, poller: Poller, concurrency: int, keep: Iterable[TargetKey] = ()) -> None:
        """Point ``poller`` at the targets; drop the tallies and clients of the others."""
        poller.reconfigure(self.collector_jobs(), concurrency)
        poller.set_targets(t for t, _ in self.targets.values())
        kept = set(self.targets) | set(keep)
        self.stats.retain(kept)
        credentials = {credential_key(a, t.account_id) for t, a in self.targets.values()}
        self.clients.retain(credentials, kept)


def new_clients(
    config: Config, stats: ApiStats, concurrency: int, gate: ScrapeGate | None = None
) -> AwsClients:
    return AwsClients(
        config.aws, stats, rate_limit=config.rate_limit, pool_size=concurrency, gate=gate
    )


def clients_change(old: Config, new: Config) -> bool:
    """Whether ``new`` needs new AWS clients (endpoint, retries, rate limit or pool size)."""
    return (old.aws, old.rate_limit, old.concurrency) != (new.aws, new.rate_limit, new.concurrency)
