"""AWS sessions, role assumption and shared regional clients, reused across polls."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

import botocore.session
from botocore import xform_name
from botocore.config import Config as BotoConfig
from botocore.credentials import (
    CredentialResolver,
    Credentials,
    DeferredRefreshableCredentials,
)
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError
from botocore.utils import parse_timestamp

from exporter import __version__
from exporter.aws.accounting import ApiAccounting
from exporter.aws.credentials import CallContext, CurrentCredentials, StaticProvider
from exporter.aws.error_codes import (
    AssumeRoleFailed,
    as_api_error,
    transport_code,
    transport_message,
)
from exporter.aws.fastparse import FastParserFactory
from exporter.aws.ratelimit import TargetLimits
from exporter.config import AccountConfig, AwsSettings
from exporter.config.scale import OrganizationsDiscovery, RateLimit
from exporter.core.errors import REFUSED, ApiError
from exporter.core.gate import ScrapeGate
from exporter.core.model import TargetKey
from exporter.core.stats import ApiStats

SessionFactory = Callable[..., botocore.session.Session]
# Organizations is a global service whose endpoint lives in us-east-1.
ORGANIZATIONS_REGION = "us-east-1"
# What makes two accounts share credentials: same id, role, external id and profile.
# The STS region (the account's first region) is part of it: AssumeRole is counted there,
# and after a reload that changes it the counts must follow to a configured target.
CredentialKey = tuple[str, str | None, str | None, str | None, str]


def credential_key(account: AccountConfig, account_id: str) -> CredentialKey:
    return (account_id, account.role_arn, account.external_id, account.profile, sts_region(account))


def sts_region(account: AccountConfig) -> str:
    return account.regions[0] if account.regions else "us-east-1"


def known_profiles() -> frozenset[str]:
    """The profiles of the shared config and credentials files, as botocore finds them."""
    return frozenset(botocore.session.Session().available_profiles)


def lenient_timestamp(value: Any) -> Any:
    """Parse a timestamp like botocore, but hand an unparseable one back unchanged.

    botocore would raise and fail the whole page; returned raw, the one bad
    summary is skipped and counted by the collector that parses it instead.
    """
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            # The API sends epoch seconds; this skips dateutil, a fifth of a poll's CPU.
            return datetime.fromtimestamp(value, UTC)
        return parse_timestamp(value)
    except (ValueError, TypeError, OverflowError, OSError, RuntimeError):
        # RuntimeError: botocore's parser gives up on a string out of every time zone's
        # range ("1e20") with it, after trying each one.
        return value


class AwsClients:
    """One credential source per account, one shared client per region, reused across polls."""

    def __init__(
        self,
        settings: AwsSettings,
        stats: ApiStats,
        session_factory: SessionFactory = botocore.session.Session,
        *,
        rate_limit: RateLimit | None = None,
        pool_size: int = 10,
        gate: ScrapeGate | None = None,
    ) -> None:
        self._settings = settings
        self._gate = gate  # the app's scrapes: requests wait while one renders
        self._rate_limit = rate_limit or RateLimit()
        self._pool_size = max(pool_size, 10)
        self._stats = stats
        self._session_factory = session_factory
        self._context = CallContext()
        self._accounting = ApiAccounting(stats, self._context)
        self._limits = TargetLimits(self._rate_limit, self._context)
        # One loader for every session: the service models are parsed once.
        self._loader = session_factory().get_component("data_loader")
        self._base = self._new_session()  # the exporter's own identity
        self._signing = self._new_session()  # its clients sign as the current thread's account
        self._signing.register_component(
            "credential_provider",
            CredentialResolver([StaticProvider(CurrentCredentials(self._context))]),
        )
        self._lock = threading.Lock()
        self._regional: dict[tuple[str, str], Any] = {}  # (service, region) -> client
        self._sts: dict[str, Any] = {}
        self._credentials: dict[CredentialKey, Credentials | None] = {}
        self._resolved: dict[str | None, str] = {}  # profile (None: default chain) -> account id
        self._organizations: tuple[tuple[str | None, str | None], Any, str] | None = None

    def _new_session(self, profile: str | None = None) -> botocore.session.Session:
        session = self._session_factory(profile=profile)
        session.register_component("data_loader", self._loader)
        # Clean Rooms answers (rest-json) get the compiled success-path parser.
        parsers = FastParserFactory()
        parsers.set_parser_defaults(timestamp_parser=lenient_timestamp)
        session.register_component("response_parser_factory", parsers)
        return session

    def _client_config(self, region: str) -> BotoConfig:
        s = self._settings
        return BotoConfig(
            region_name=region,
            retries={"mode": s.retry_mode, "total_max_attempts": s.max_attempts},
            connect_timeout=s.connect_timeout,
            read_timeout=s.read_timeout,
            max_pool_connections=self._pool_size,
            user_agent_extra=f"cleanrooms-exporter/{__version__}",
        )

    def _create(self, session: botocore.session.Session, service: str, region: str) -> Any:
        return session.create_client(
            service,
            region_name=region,
            endpoint_url=self._settings.endpoint_url,
            config=self._client_config(region),
        )

    def cleanrooms(
        self, account: AccountConfig, account_id: str, region: str, service: str = "cleanrooms"
    ) -> TargetClient:
        """One target's handle on its region's shared client of ``service`` (Clean Rooms, or
        Clean Rooms ML: ``cleanroomsml``)."""
        with self._lock:
            client = self._regional.get((service, region))
            if client is None:
                client = self._create(self._signing, service, region)
                self._regional[(service, region)] = client
                self._limits.install(client)
                self._accounting.instrument(client, lambda: self._context.target)
            credentials = self._credentials_for(account, account_id)
        target = TargetClient(client, self._context, (account_id, region), credentials)
        target.pause = self._gate.wait if self._gate is not None else None
        return target

    def retain(self, credentials: set[CredentialKey], targets: set[TargetKey]) -> None:
        """Forget credential sources and rate buckets no configured target uses (on reload)."""
        with self._lock:
            for key in [k for k in self._credentials if k not in credentials]:
                del self._credentials[key]
            self._limits.retain(targets)

    def known_account_id(self, account: AccountConfig) -> str | None:
        """The account's id if it is written in the config or STS has already told it."""
        return account.id or self._resolved.get(account.profile)

    def resolve_account_id(self, account: AccountConfig) -> str:
        """Ask STS who the account's credentials belong to (once per credential source)."""
        cached = self._resolved.get(account.profile)
        if cached is None:
            session = self._new_session(account.profile)
            sts = self._create(session, "sts", sts_region(account))
            cached = self._resolved[account.profile] = str(sts.get_caller_identity()["Account"])
        return cached

    def organizations(self, discovery: OrganizationsDiscovery) -> tuple[Any, str]:
        """The Organizations client for discovery, and the account its API calls count under.

        Call it, and the client, inside ``acting_for((account, ORGANIZATIONS_REGION))`` so
        an AssumeRole it needs is counted under that account.
        """
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
            session = self._new_session()
            credentials = self._role_credentials(account)
            session.register_component(
                "credential_provider", CredentialResolver([StaticProvider(credentials)])
            )
        else:
            account_id = self.resolve_account_id(AccountConfig(regions=(ORGANIZATIONS_REGION,)))
            session = self._base
        client = self._create(session, "organizations", ORGANIZATIONS_REGION)
        self._accounting.instrument(client, lambda: (account_id, ORGANIZATIONS_REGION))
        self._organizations = (key, client, account_id)
        return client, account_id

    def acting_for(self, target: TargetKey) -> Any:
        """A context in which AWS calls are counted under ``target``."""
        return self._context.acting_for(target, None)

    def _credentials_for(self, account: AccountConfig, account_id: str) -> Credentials | None:
        key = credential_key(account, account_id)
        if key not in self._credentials:
            if account.role_arn:
                self._credentials[key] = self._role_credentials(account)
            elif account.profile:
                self._credentials[key] = self._new_session(account.profile).get_credentials()
            else:
                self._credentials[key] = self._base.get_credentials()
        return self._credentials[key]

    def _role_credentials(self, account: AccountConfig) -> Credentials:
        region = sts_region(account)
        return DeferredRefreshableCredentials(
            refresh_using=partial(self._assume_role, account, region), method="assume-role"
        )

    def _assume_role(self, account: AccountConfig, region: str) -> dict[str, str]:
        """Fetch fresh role credentials; botocore calls it at first use and before expiry."""
        params = {"RoleArn": account.role_arn, "RoleSessionName": self._settings.role_session_name}
        if account.external_id:
            params["ExternalId"] = account.external_id
        try:
            answer = self._sts_client(region).assume_role(**params)["Credentials"]
        except ClientError:
            raise  # an AWS error answer: already counted, and names AssumeRole itself
        except BotoCoreError as err:
            # Name the failing call: a timeout here must not be blamed on ListCollaborations.
            code, message = transport_code(err), transport_message(err)
            raise AssumeRoleFailed(code=code, message=message) from err
        except Exception as err:
            # botocore's parser raises plain exceptions whose text is the raw response
            # body, which here holds the secret key and session token: keep none of it.
            target = self._context.target
            if target is not None:
                self._stats.outcome(
                    (target[0], region, "AssumeRole"), None, "InvalidResponse", False
                )
            raise AssumeRoleFailed(code="InvalidResponse", message=type(err).__name__) from None
        expiry = answer["Expiration"]
        return {
            "access_key": answer["AccessKeyId"],
            "secret_key": answer["SecretAccessKey"],
            "token": answer["SessionToken"],
            "expiry_time": expiry.isoformat() if hasattr(expiry, "isoformat") else str(expiry),
        }

    def _sts_client(self, region: str) -> Any:
        with self._lock:
            client = self._sts.get(region)
            if client is None:
                client = self._sts[region] = self._create(self._base, "sts", region)
                # AssumeRole counts under the account being assumed, in the STS region.
                context = self._context
                self._accounting.instrument(
                    client, lambda: (context.target[0], region) if context.target else None
                )
            return client


class TargetClient:
    """One target's view of its region's shared client: calls run with its credentials."""

    def __init__(
        self,
        client: Any,
        context: CallContext,
        target: TargetKey,
        credentials: Credentials | None,
    ) -> None:
        self._client = client
        self._context = context
        self._target = target
        self._credentials = credentials
        self.pause: Callable[[], object] | None = None  # called before each request

    def call(self, operation: str, **params: Any) -> Any:
        """One AWS request, ``operation`` by its API name (``ListMembers``).

        An error answer raises ``ApiError``: the collectors that call this know no botocore.
        So does a request botocore refuses to send (a parameter the model does not allow,
        such as an id from an answer that is shorter than the model says): code ``REFUSED``,
        nothing sent, nothing counted, and the caller skips that one item.
        """
        method = getattr(self._client, xform_name(operation))
        if self.pause is not None:
            self.pause()
        with self._context.acting_for(self._target, self._credentials):
            try:
                return method(**params)
            except ClientError as err:
                raise as_api_error(err) from err
            except ParamValidationError as err:
                raise ApiError(operation, REFUSED, " ".join(str(err).split())) from err
