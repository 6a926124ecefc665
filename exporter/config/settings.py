"""The validated configuration: frozen dataclasses, built by ``loader`` from the YAML file."""

from __future__ import annotations

from dataclasses import dataclass, field

from exporter.config.collectors import CollectorConfig, CollectorSchedule, schedules
from exporter.config.output import MetricsFilter
from exporter.config.quotas import Overrides
from exporter.config.scale import OrganizationsDiscovery, RateLimit, Sharding


@dataclass(frozen=True)
class AwsSettings:
    """Settings shared by every AWS client the exporter creates."""

    endpoint_url: str | None = None
    role_session_name: str = "cleanrooms-exporter"
    retry_mode: str = "standard"
    max_attempts: int = 5
    connect_timeout: float = 5.0
    read_timeout: float = 20.0


@dataclass(frozen=True)
class AccountConfig:
    """One configured account: how to get credentials and which regions to poll."""

    id: str | None = None
    name: str = ""
    role_arn: str | None = None
    external_id: str | None = None
    profile: str | None = None
    regions: tuple[str, ...] = ()
    quotas: Overrides = ()  # its adjustable AWS quotas, where they differ from the defaults

    @property
    def source(self) -> str:
        """A short, secret-free description of the credential source, for logs."""
        if self.role_arn:
            return f"role {self.role_arn}"
        if self.profile:
            return f"profile {self.profile}"
        return "default credential chain"


@dataclass(frozen=True)
class Config:
    """The whole validated configuration."""

    poll_interval: float = 300.0
    stale_after: float = 900.0
    concurrency: int = 16
    # Processes that poll; 1 polls in the main process, "auto" one per usable core.
    poll_workers: int | str = 1
    regions: tuple[str, ...] = ("us-east-1",)
    member_status: str | None = None
    per_collaboration_metrics: bool = True
    trusted_creator_accounts: tuple[str, ...] = ()
    max_pages_per_poll: int = 1000
    aws: AwsSettings = field(default_factory=AwsSettings)
    accounts: tuple[AccountConfig, ...] = (AccountConfig(),)
    discovery: OrganizationsDiscovery | None = None
    sharding: Sharding = field(default_factory=Sharding)
    rate_limit: RateLimit = field(default_factory=RateLimit)
    collectors: tuple[CollectorConfig, ...] = ()  # as written; see schedules()
    quotas: Overrides = ()  # adjustable AWS quotas of every account, over the defaults
    metrics: MetricsFilter = field(default_factory=MetricsFilter)  # allow and deny lists

    def schedules(self) -> tuple[CollectorSchedule, ...]:
        """The enabled collectors with their effective interval and staleness."""
        return schedules(self.collectors, self.poll_interval, self.stale_after)
