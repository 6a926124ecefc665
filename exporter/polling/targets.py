"""Expand accounts into (account, region) targets and poll one target's collector through AWS."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from exporter.aws.clients import AssumeRoleFailed, classify_attempt, client_error_code
from exporter.collectors import collaborations
from exporter.collectors.base import CollectorSpec, PollContext
from exporter.collectors.paging import MAX_PAGES, FetchError
from exporter.config.loader import AccountConfig, ConfigError
from exporter.core.model import PollData, PollError, Target, TargetKey
from exporter.core.stats import ApiStats
from exporter.polling.poller import PollFailed
from exporter.polling.sharding import Shard

MESSAGE_LIMIT = 300  # characters of an AWS error message kept for logs and the status page
WHOLE = Shard()  # no sharding: every account


class ClientSource(Protocol):
    """What the target poller needs from ``AwsClients`` (tests pass their own)."""

    def cleanrooms(self, account: AccountConfig, account_id: str, region: str) -> object: ...

    def resolve_account_id(self, account: AccountConfig) -> str: ...


def build_targets(
    static: Sequence[AccountConfig],
    clients: ClientSource,
    discovered: Sequence[AccountConfig] = (),
    shard: Shard = WHOLE,
) -> dict[TargetKey, tuple[Target, AccountConfig]]:
    """This shard's targets: static accounts first, then discovered ones not already listed.

    Ids of static accounts listed without one are asked of STS. Raises ``ConfigError``
    when two static accounts turn out to be the same, and lets botocore errors from the
    identity look-up propagate (a start-up failure, or a rejected reload).
    """
    targets: dict[TargetKey, tuple[Target, AccountConfig]] = {}
    problems: list[str] = []
    static_ids: set[str] = set()
    for index, account in enumerate(static):
        account_id = account.id or clients.resolve_account_id(account)
        static_ids.add(account_id)
        for key in _add(targets, account, account_id, shard):
            problems.append(f"accounts[{index}]: duplicate target ({key[0]}, {key[1]})")
    if problems:
        raise ConfigError(problems)
    for account in discovered:
        if account.id and account.id not in static_ids:  # a static entry wins
            _add(targets, account, account.id, shard)
    return targets


def _add(
    targets: dict[TargetKey, tuple[Target, AccountConfig]],
    account: AccountConfig,
    account_id: str,
    shard: Shard,
) -> list[TargetKey]:
    """Add the account's targets if this shard owns it; return keys that were already there."""
    if not shard.owns(account_id):
        return []
    clashes = []
    for region in account.regions:
        target = Target(account_id=account_id, region=region, account_name=account.name)
        if target.key in targets:
            clashes.append(target.key)
        targets[target.key] = (target, account)
    return clashes


class TargetPoller:
    """A collector's poll function for ``Poller``: client, context, and errors as ``PollError``.

    Called with a target alone it is the collaborations poll; collectors that fan out
    get the collaborations collector's last good data as well.
    """

    def __init__(
        self,
        clients: ClientSource,
        accounts: dict[TargetKey, AccountConfig],
        stats: ApiStats,
        member_status: str | None = None,
        max_pages: int = MAX_PAGES,
        *,
        spec: CollectorSpec = collaborations.SPEC,
        options: Mapping[str, float] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clients = clients
        self._accounts = accounts
        self._stats = stats
        self._member_status = member_status
        self._max_pages = max_pages
        self._spec = spec
        self._options = dict(options or {})
        self._clock = clock

    def __call__(
        self, target: Target, collaborations: PollData | None = None, previous: Any = None
    ) -> Any:
        operation = self._spec.operations[0]
        account = self._accounts.get(target.key)
        if account is None:  # removed by a reload after the poll was scheduled
            raise PollFailed(PollError(operation, "TargetRemoved", "no longer configured"))
        if self._spec.fan_out and collaborations is None:
            # Nothing to fan out from: say so rather than report an empty, healthy result.
            message = "the collaborations collector has no data for this target"
            raise PollFailed(PollError(operation, "NoCollaborationData", message))
        try:
            client = self._clients.cleanrooms(account, target.account_id, target.region)
            context = PollContext(
                client,
                collaborations,
                self._member_status,
                self._max_pages,
                self._clock(),
                previous,
                self._options,
            )
            return self._spec.poll(context)
        except ClientError as err:
            raise PollFailed(_client_error(err)) from err
        except FetchError as err:
            # botocore saw a good HTTP answer; the API-level error is ours to count.
            self._stats.outcome((*target.key, err.operation), None, err.code, False)
            raise PollFailed(PollError(err.operation, err.code, str(err))) from err
        except AssumeRoleFailed as err:
            error = PollError("AssumeRole", err.kwargs["code"], _short(err.kwargs["message"]))
            raise PollFailed(error) from err
        except BotoCoreError as err:
            code = classify_attempt(err, None, None)[0] or type(err).__name__
            raise PollFailed(PollError(operation, code, _short(str(err)))) from err


def _client_error(err: ClientError) -> PollError:
    message = str(err.response.get("Error", {}).get("Message") or "")
    return PollError(err.operation_name, client_error_code(err), _short(message))


def _short(message: str) -> str:
    return " ".join(message.split())[:MESSAGE_LIMIT]
