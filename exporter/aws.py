"""AWS sessions, role assumption, the client cache and per-attempt API accounting."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import botocore.session
from botocore.config import Config as BotoConfig
from botocore.credentials import (
    AssumeRoleCredentialFetcher,
    CredentialProvider,
    CredentialResolver,
    Credentials,
    DeferredRefreshableCredentials,
)
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from botocore.utils import parse_timestamp

from exporter import __version__
from exporter.config import AccountConfig, AwsSettings
from exporter.config_scale import OrganizationsDiscovery, RateLimit
from exporter.ratelimit import TokenBucket
from exporter.stats import ApiStats

# The codes botocore's own retry logic treats as throttling, plus the HTTP 429
# status handled separately: all of them count as a throttle.
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)

# Fixed error_code words for attempts that never got an HTTP answer.
_TRANSPORT_ERRORS: tuple[tuple[type[Exception], str], ...] = (
    (ConnectTimeoutError, "ConnectTimeout"),
    (ReadTimeoutError, "ReadTimeout"),
    (EndpointConnectionError, "ConnectionError"),
    (ConnectionClosedError, "ConnectionError"),
    (ResponseStreamingError, "IncompleteResponse"),
)

SessionFactory = Callable[..., botocore.session.Session]
# Organizations is a global service whose endpoint lives in us-east-1.
ORGANIZATIONS_REGION = "us-east-1"
# What makes two accounts share credentials: same id, role, external id and profile.
CredentialKey = tuple[str, str | None, str | None, str | None]


def credential_key(account: AccountConfig, account_id: str) -> CredentialKey:
    return (account_id, account.role_arn, account.external_id, account.profile)


def lenient_timestamp(value: Any) -> Any:
    """Parse a timestamp like botocore, but hand an unparseable one back unchanged.

    botocore would raise and fail the whole page; returned raw, the one bad
    summary is skipped and counted by ``fetch.parse_summary`` instead.
    """
    try:
        return parse_timestamp(value)
    except (ValueError, TypeError, OverflowError):
        return value


def client_error_code(err: ClientError) -> str:
    """The AWS error code of a failed call, or ``HTTP<status>`` when the answer had none."""
    code = str(err.response.get("Error", {}).get("Code") or "")
    if not code or code.isdigit():
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        code = f"HTTP{status}"
    return code


def classify_attempt(
    exception: Exception | None,
    response: dict[str, Any] | None,
    parsed: dict[str, Any] | None,
) -> tuple[str | None, bool]:
    """Return (error_code or None, throttled) for one HTTP attempt."""
    if exception is not None:
        for kind, word in _TRANSPORT_ERRORS:
            if isinstance(exception, kind):
                return word, False
        return type(exception).__name__, False
    status = int((response or {}).get("status_code", 0))
    error = (parsed or {}).get("Error") or {}
    code = str(error.get("Code") or "")
    if status < 400 and not code:
        return None, False
    if not code or code.isdigit():
        code = f"HTTP{status}"
    return code, status == 429 or code in THROTTLING_CODES


class AssumeRoleFailed(BotoCoreError):  # type: ignore[misc]
    """Role credentials could not be fetched for a reason other than an AWS error answer."""

    fmt = "AssumeRole failed: {code}: {message}"


class _StaticProvider(CredentialProvider):  # type: ignore[misc]
    """Hands a botocore session one ready-made (refreshable) credentials object."""

    METHOD = "assume-role"
    CANONICAL_NAME = "cleanrooms-exporter-assume-role"

    def __init__(self, credentials: Credentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> Credentials:
        return self._credentials


class AwsClients:
    """Creates one credential source per account and one client per target, then reuses them."""

    def __init__(
        self,
        settings: AwsSettings,
        stats: ApiStats,
        session_factory: SessionFactory = botocore.session.Session,
        rate_limit: RateLimit | None = None,
    ) -> None:
        self._settings = settings
        self._rate_limit = rate_limit or RateLimit()
        self._stats = stats
        self._session_factory = session_factory
        # One loader for every session: the service models are parsed once, not per account.
        self._loader = session_factory().get_component("data_loader")
        self._base = self._new_session()
        self._lock = threading.Lock()
        self._sessions: dict[CredentialKey, botocore.session.Session] = {}
        self._clients: dict[tuple[CredentialKey, str], Any] = {}
        self._timing = threading.local()
        self._resolved: dict[str | None, str] = {}  # profile (None: default chain) -> account id
        self._organizations: tuple[tuple[str | None, str | None], Any, str] | None = None

    def _new_session(self, profile: str | None = None) -> botocore.session.Session:
        session = self._session_factory(profile=profile)
        session.register_component("data_loader", self._loader)
        parsers = session.get_component("response_parser_factory")
        parsers.set_parser_defaults(timestamp_parser=lenient_timestamp)
        return session

    def _client_config(self, region: str) -> BotoConfig:
        s = self._settings
        return BotoConfig(
            region_name=region,
            retries={"mode": s.retry_mode, "total_max_attempts": s.max_attempts},
            connect_timeout=s.connect_timeout,
            read_timeout=s.read_timeout,
            user_agent_extra=f"cleanrooms-exporter/{__version__}",
        )

    def cleanrooms(self, account: AccountConfig, account_id: str, region: str) -> Any:
        """The cached Clean Rooms client of one target, created on first use."""
        key = (credential_key(account, account_id), region)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                session = self._session_for(account, account_id)
                client = session.create_client(
                    "cleanrooms",
                    region_name=region,
                    endpoint_url=self._settings.endpoint_url,
                    config=self._client_config(region),
                )
                self._limit(client)
                self._instrument(client, account_id, region)
                self._clients[key] = client
            return client

    def retain(self, in_use: set[tuple[CredentialKey, str]]) -> None:
        """Drop sessions and clients that no configured target uses any more (after a reload)."""
        with self._lock:
            for key in [k for k in self._clients if k not in in_use]:
                del self._clients[key]
            accounts = {credentials for credentials, _ in in_use}
            for account in [a for a in self._sessions if a not in accounts]:
                del self._sessions[account]

    def resolve_account_id(self, account: AccountConfig) -> str:
        """Ask STS who the account's credentials belong to (once per credential source)."""
        cached = self._resolved.get(account.profile)
        if cached is None:
            cached = self._resolved[account.profile] = self._caller_account(account)
        return cached

    def organizations(self, discovery: OrganizationsDiscovery) -> tuple[Any, str]:
        """The Organizations client for discovery, and the account its API calls count under."""
        key = (discovery.role_arn, discovery.external_id)
        if self._organizations is not None and self._organizations[0] == key:
            return self._organizations[1], self._organizations[2]
        if discovery.role_arn:
            account_id = discovery.role_arn.split(":")[4]
            account = AccountConfig(
                id=account_id,
                role_arn=discovery.role_arn,
                external_id=discovery.external_id,
                regions=(ORGANIZATIONS_REGION,),
            )
            session = self._role_session(account, account_id)
        else:
            account_id = self.resolve_account_id(AccountConfig(regions=(ORGANIZATIONS_REGION,)))
            session = self._base
        client = session.create_client(
            "organizations",
            region_name=ORGANIZATIONS_REGION,
            endpoint_url=self._settings.endpoint_url,
            config=self._client_config(ORGANIZATIONS_REGION),
        )
        self._instrument(client, account_id, ORGANIZATIONS_REGION)
        self._organizations = (key, client, account_id)
        return client, account_id

    def _caller_account(self, account: AccountConfig) -> str:
        session = self._new_session(account.profile)
        region = account.regions[0] if account.regions else "us-east-1"
        sts = session.create_client(
            "sts",
            region_name=region,
            endpoint_url=self._settings.endpoint_url,
            config=self._client_config(region),
        )
        return str(sts.get_caller_identity()["Account"])

    def _session_for(self, account: AccountConfig, account_id: str) -> botocore.session.Session:
        key = credential_key(account, account_id)
        session = self._sessions.get(key)
        if session is None:
            if account.role_arn:
                session = self._role_session(account, account_id)
            else:
                session = self._new_session(account.profile)
            self._sessions[key] = session
        return session

    def _role_session(self, account: AccountConfig, account_id: str) -> botocore.session.Session:
        region = account.regions[0] if account.regions else "us-east-1"
        credentials = DeferredRefreshableCredentials(
            refresh_using=partial(self._assume_role, account, account_id, region),
            method="assume-role",
        )
        session = self._new_session()
        session.register_component(
            "credential_provider", CredentialResolver([_StaticProvider(credentials)])
        )
        return session

    def _assume_role(self, account: AccountConfig, account_id: str, region: str) -> Any:
        """Fetch fresh role credentials; called by botocore at first use and before expiry."""
        source = self._base.get_credentials()
        if source is None:
            raise AssumeRoleFailed(code="NoCredentials", message=str(NoCredentialsError()))
        extra: dict[str, str] = {"RoleSessionName": self._settings.role_session_name}
        if account.external_id:
            extra["ExternalId"] = account.external_id
        fetcher = AssumeRoleCredentialFetcher(
            client_creator=partial(self._sts_client, account_id, region),
            source_credentials=source,
            role_arn=account.role_arn,
            extra_args=extra,
        )
        try:
            return fetcher.fetch_credentials()
        except BotoCoreError as err:
            # Name the failing call: a timeout here must not be blamed on ListCollaborations.
            code = classify_attempt(err, None, None)[0] or type(err).__name__
            raise AssumeRoleFailed(code=code, message=str(err)) from err

    def _sts_client(self, account_id: str, region: str, service: str, **credentials: Any) -> Any:
        client = self._base.create_client(
            service,
            region_name=region,
            endpoint_url=self._settings.endpoint_url,
            config=self._client_config(region),
            **credentials,
        )
        self._instrument(client, account_id, region)
        return client

    def _limit(self, client: Any) -> None:
        """Hold each attempt of this target's client to the configured request rate."""
        limit = self._rate_limit
        if limit.requests_per_second > 0:
            bucket = TokenBucket(limit.requests_per_second, limit.burst)

            def wait_turn(**_: Any) -> None:
                # Must return None: a before-send handler's return value replaces the request.
                bucket.acquire()

            # First in line, so the wait is not counted as the attempt's duration.
            client.meta.events.register_first("before-send", wait_turn)

    def _instrument(self, client: Any, account_id: str, region: str) -> None:
        events = client.meta.events
        events.register("before-send", partial(self._before_send, account_id, region))
        events.register("response-received", partial(self._received, account_id, region))

    def _before_send(self, account_id: str, region: str, *, event_name: str, **_: Any) -> None:
        # botocore emits before-send and response-received on the sending
        # thread, once per attempt, so a thread-local start time is exact.
        self._timing.start = time.perf_counter()
        self._stats.request((account_id, region, event_name.rsplit(".", 1)[-1]))

    def _received(
        self,
        account_id: str,
        region: str,
        *,
        event_name: str,
        exception: Exception | None = None,
        response_dict: dict[str, Any] | None = None,
        parsed_response: dict[str, Any] | None = None,
        **_: Any,
    ) -> None:
        start = getattr(self._timing, "start", None)
        duration = time.perf_counter() - start if start is not None else None
        code, throttled = classify_attempt(exception, response_dict, parsed_response)
        operation = event_name.rsplit(".", 1)[-1]
        self._stats.outcome((account_id, region, operation), duration, code, throttled)
