"""Expand accounts into (account, region) targets and poll one target through AWS."""

from __future__ import annotations

from typing import Protocol

from botocore.exceptions import BotoCoreError, ClientError

from exporter.aws import AssumeRoleFailed, classify_attempt
from exporter.config import AccountConfig, Config, ConfigError
from exporter.fetch import MAX_PAGES, FetchError, build_poll_data, list_collaborations
from exporter.model import PollData, PollError, Target, TargetKey
from exporter.poller import PollFailed
from exporter.stats import ApiStats

MESSAGE_LIMIT = 300  # characters of an AWS error message kept for logs and the status page


class ClientSource(Protocol):
    """What the target poller needs from ``AwsClients`` (tests pass their own)."""

    def cleanrooms(self, account: AccountConfig, account_id: str, region: str) -> object: ...

    def resolve_account_id(self, account: AccountConfig) -> str: ...


def build_targets(
    config: Config, clients: ClientSource
) -> dict[TargetKey, tuple[Target, AccountConfig]]:
    """Every configured target, with ids asked of STS for accounts listed without one.

    Raises ``ConfigError`` when two accounts turn out to be the same account, and lets
    botocore errors from the identity look-up propagate (a start-up failure).
    """
    targets: dict[TargetKey, tuple[Target, AccountConfig]] = {}
    problems: list[str] = []
    for index, account in enumerate(config.accounts):
        account_id = account.id or clients.resolve_account_id(account)
        for region in account.regions:
            target = Target(account_id=account_id, region=region, account_name=account.name)
            if target.key in targets:
                problems.append(f"accounts[{index}]: duplicate target ({account_id}, {region})")
            targets[target.key] = (target, account)
    if problems:
        raise ConfigError(problems)
    return targets


class TargetPoller:
    """The poll function handed to ``Poller``: one full ListCollaborations listing."""

    def __init__(
        self,
        clients: ClientSource,
        accounts: dict[TargetKey, AccountConfig],
        stats: ApiStats,
        member_status: str | None = None,
        max_pages: int = MAX_PAGES,
    ) -> None:
        self._clients = clients
        self._accounts = accounts
        self._stats = stats
        self._member_status = member_status
        self._max_pages = max_pages

    def __call__(self, target: Target) -> PollData:
        account = self._accounts[target.key]
        try:
            client = self._clients.cleanrooms(account, target.account_id, target.region)
            summaries, pages = list_collaborations(client, self._member_status, self._max_pages)
        except ClientError as err:
            raise PollFailed(_client_error(err)) from err
        except FetchError as err:
            # botocore saw a good HTTP answer; the API-level error is ours to count.
            self._stats.outcome((*target.key, "ListCollaborations"), None, err.code, False)
            raise PollFailed(PollError("ListCollaborations", err.code, str(err))) from err
        except AssumeRoleFailed as err:
            error = PollError("AssumeRole", err.kwargs["code"], _short(err.kwargs["message"]))
            raise PollFailed(error) from err
        except BotoCoreError as err:
            code = classify_attempt(err, None, None)[0] or type(err).__name__
            raise PollFailed(PollError("ListCollaborations", code, _short(str(err)))) from err
        return build_poll_data(summaries, pages, self._member_status)


def _client_error(err: ClientError) -> PollError:
    info = err.response.get("Error", {})
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    code = str(info.get("Code") or "")
    if not code or code.isdigit():
        code = f"HTTP{status}"
    return PollError(err.operation_name, code, _short(str(info.get("Message") or "")))


def _short(message: str) -> str:
    return " ".join(message.split())[:MESSAGE_LIMIT]
