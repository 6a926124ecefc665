"""Expand accounts into (account, region) targets and poll one target's collector through AWS."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from exporter.aws.error_codes import SDK_ERRORS, sdk_error
from exporter.collectors import BY_NAME
from exporter.collectors.base import Client, CollectorSpec, PollContext
from exporter.collectors.paging import MAX_PAGES, FetchError
from exporter.config import AccountConfig
from exporter.config.quotas import Overrides, merged
from exporter.core.errors import ApiError
from exporter.core.model import PollError, Target, TargetKey
from exporter.core.stats import ApiStats
from exporter.polling.failures import PollFailed
from exporter.polling.sharding import Shard

log = logging.getLogger(__name__)

MESSAGE_LIMIT = 300  # characters of an AWS error message kept for logs and the status page
WHOLE = Shard()  # no sharding: every account


class ClientSource(Protocol):
    """What the target poller needs from ``AwsClients`` (tests pass their own)."""

    def cleanrooms(
        self, account: AccountConfig, account_id: str, region: str, service: str = ...
    ) -> Client: ...

    def known_account_id(self, account: AccountConfig) -> str | None: ...


Targets = dict[TargetKey, tuple[Target, AccountConfig]]


@dataclass(frozen=True)
class Unresolved:
    """A static account listed without an id that STS has not told yet: not a target yet."""

    index: int  # its place in accounts[]
    account: AccountConfig

    @property
    def where(self) -> str:
        """Its config path and credential source, for logs: ``accounts[1] (profile analytics)``."""
        return f"accounts[{self.index}] ({self.account.source})"


def build_targets(
    static: Sequence[AccountConfig],
    clients: ClientSource,
    discovered: Sequence[AccountConfig] = (),
    shard: Shard = WHOLE,
    quotas: Overrides = (),
) -> tuple[Targets, list[Unresolved]]:
    """This shard's targets (static accounts first, then discovered ones not already listed),
    and the static accounts whose id is not known yet; makes no AWS call.

    Two static accounts that turn out to be one (a profile and the default chain, say)
    cannot be told apart by the config check: the first listed wins, the other is skipped
    with a warning.
    """
    targets: Targets = {}
    unresolved: list[Unresolved] = []
    static_ids: set[str] = set()
    for index, account in enumerate(static):
        account_id = clients.known_account_id(account)
        if account_id is None:
            unresolved.append(Unresolved(index, account))
            continue
        if account_id in static_ids:
            log.warning(
                "accounts[%d] (%s) is account %s, listed before: skipped",
                index,
                account.source,
                account_id,
            )
            continue
        static_ids.add(account_id)
        _add(targets, account, account_id, shard, quotas)
    for account in discovered:
        if account.id and account.id not in static_ids:  # a static entry wins
            _add(targets, account, account.id, shard, quotas)
    return targets, unresolved


def _add(
    targets: Targets, account: AccountConfig, account_id: str, shard: Shard, quotas: Overrides
) -> None:
    """Add the account's targets if this shard owns it."""
    if not shard.owns(account_id):
        return
    overrides = merged(quotas, account.quotas)
    for region in account.regions:
        target = Target(account_id, region, account.name, overrides)
        targets[target.key] = (target, account)


@dataclass(frozen=True)
class PollSettings:
    """Top-level settings every collector's poll reads."""

    member_status: str | None = None
    max_pages: int = MAX_PAGES


class TargetPoller:
    """A collector's poll function for ``Poller``: client, context, and errors as ``PollError``.

    Called with the target, the last good data of the collector ``spec.polling.fans_out_from`` names
    (None when it needs none), and the collector's own last good data.
    """

    def __init__(
        self,
        clients: ClientSource,
        accounts: dict[TargetKey, AccountConfig],
        stats: ApiStats,
        spec: CollectorSpec[Any],
        settings: PollSettings = PollSettings(),
        *,
        options: Mapping[str, float] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clients = clients
        self._accounts = accounts
        self._stats = stats
        self._spec = spec
        self._settings = settings
        self._options = dict(options or {})
        self._clock = clock

    def __call__(self, target: Target, parent: Any = None, previous: Any = None) -> Any:
        operation = self._spec.polling.operations[0]
        account = self._accounts.get(target.key)
        if account is None:  # removed by a reload after the poll was scheduled
            raise PollFailed(PollError(operation, "TargetRemoved", "no longer configured"))
        source = self._spec.polling.fans_out_from
        if source is not None and parent is None:
            # Nothing to fan out from: say so rather than report an empty, healthy result.
            message = f"the {source} collector has no data for this target"
            raise PollFailed(PollError(operation, BY_NAME[source].polling.no_data_code, message))
        try:
            return self._spec.polling.poll(self._context(account, target, parent, previous))
        except ApiError as err:
            raise PollFailed(PollError(err.operation, err.code, _short(err.message))) from err
        except FetchError as err:
            # botocore saw a good HTTP answer; the API-level error is ours to count.
            self._stats.outcome((*target.key, err.operation), None, err.code, False)
            raise PollFailed(PollError(err.operation, err.code, str(err))) from err
        except SDK_ERRORS as err:
            raise PollFailed(self._sdk_failure(sdk_error(err, operation), target)) from err

    def _sdk_failure(self, err: ApiError, target: Target) -> PollError:
        message, service = err.message, self._spec.polling.service
        if err.code == "ConnectionError" and service != "cleanrooms":
            # No endpoint answers: most often the service is not offered in the region.
            message = f"{service} is not offered in {target.region}? {message}"
        return PollError(err.operation, err.code, _short(message))

    def _context(
        self, account: AccountConfig, target: Target, parent: Any, previous: Any
    ) -> PollContext:
        client = self._clients.cleanrooms(
            account, target.account_id, target.region, self._spec.polling.service
        )
        settings = self._settings
        return PollContext(
            client,
            parent,
            settings.member_status,
            settings.max_pages,
            self._clock(),
            previous,
            self._options,
        )


def _short(message: str) -> str:
    return " ".join(message.split())[:MESSAGE_LIMIT]
