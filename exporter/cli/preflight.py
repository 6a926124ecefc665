"""``--check.aws``: prove with the real credentials that every enabled collector can poll.

For each account and region: build the credentials (assume the role with its external
id), then make each enabled collector's cheapest read once (``maxResults=1``, no retry)
and print one line per (account, region, collector): ``ok``, or the error and what to
fix. At most one call per (target, operation), plus one ``AssumeRole`` or
``GetCallerIdentity`` per account. No metrics server starts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from exporter.aws.clients import AwsClients
from exporter.aws.error_codes import SDK_ERRORS, THROTTLING_CODES, sdk_error
from exporter.collectors import BY_NAME, CollectorSpec
from exporter.collectors.base import SERVICE_TITLES
from exporter.config import AccountConfig, Config
from exporter.config.scale import RateLimit
from exporter.core.errors import ApiError
from exporter.core.stats import ApiStats

CREDENTIALS = frozenset({"AssumeRole", "GetCallerIdentity"})
NOT_TRIED = ": not tried, the credentials failed"
DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
BAD_KEYS = frozenset(
    {"UnrecognizedClientException", "InvalidClientTokenId", "SignatureDoesNotMatch"}
)
UNREACHABLE = frozenset({"ConnectionError", "ConnectTimeout", "ReadTimeout"})
# Failures of the credentials themselves, before any request: nothing of the account works.
LOCAL_CREDENTIALS = frozenset({"ProfileNotFound", "NoCredentialsError", "PartialCredentialsError"})


@dataclass(frozen=True)
class Outcome:
    """One (account, region, collector) line of the preflight."""

    account: str
    region: str
    collector: str
    ok: bool
    text: str

    def line(self) -> str:
        verdict = "ok" if self.ok else "FAILED"
        return f"{self.account} {self.region} {self.collector}: {verdict}{self.text}"


class CredentialsFailed(Exception):
    """The account's credentials could not be built: nothing else of it can be tried."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def preflight(config: Config, out: Callable[[str], None] = print) -> int:
    """Run every check and print its line; 0 only when every enabled collector can poll."""
    aws = replace(config.aws, max_attempts=1)  # one call per operation: no retries
    clients = AwsClients(aws, ApiStats(), rate_limit=RateLimit(requests_per_second=0))
    specs = [BY_NAME[s.name] for s in config.schedules()]
    outcomes = []
    for index, account in enumerate(config.accounts):
        for outcome in _account(clients, index, account, specs):
            out(outcome.line())
            outcomes.append(outcome)
    good = sum(o.ok for o in outcomes)
    out(f"preflight: {good} of {len(outcomes)} checks ok")
    return 0 if good == len(outcomes) else 1


def _account(
    clients: AwsClients, index: int, account: AccountConfig, specs: Sequence[CollectorSpec[Any]]
) -> Iterator[Outcome]:
    label, failure = f"accounts[{index}]", None
    try:
        account_id = account.id or clients.resolve_account_id(account)
        label = f"{account_id} ({account.name or account.source})"
    except SDK_ERRORS as err:
        failure = _failure(sdk_error(err, "GetCallerIdentity"), account)
    for region in account.regions:
        if failure is not None:  # credentials that failed once are not tried again
            yield from _not_tried(label, region, specs, failure)
            continue
        outcomes, failure = _region(clients, account, region, account_id=account_id, specs=specs)
        yield from (Outcome(label, region, *outcome) for outcome in outcomes)


def _region(
    clients: AwsClients,
    account: AccountConfig,
    region: str,
    *,
    account_id: str,
    specs: Sequence[CollectorSpec[Any]],
) -> tuple[list[tuple[str, bool, str]], str | None]:
    """(collector, ok, text) of each probe on one target, and a credentials failure if any."""
    try:
        client = partial(clients.cleanrooms, account, account_id, region)
        target = _Target(client, account, region)
        # The first call builds the credentials: a failure of theirs comes before any line.
        return [(s.name, *target.check(s)) for s in specs], None
    except CredentialsFailed as err:
        failure = err.text
    except SDK_ERRORS as err:  # credentials of a profile that cannot be read, say
        failure = _failure(sdk_error(err, "GetCallerIdentity"), account)
    lines = [(specs[0].name, False, failure)]
    lines += [(s.name, False, NOT_TRIED) for s in specs[1:]]
    return lines, failure


def _not_tried(
    label: str, region: str, specs: Sequence[CollectorSpec[Any]], why: str
) -> Iterator[Outcome]:
    for spec in specs:
        yield Outcome(label, region, spec.name, False, why if spec is specs[0] else NOT_TRIED)


@dataclass
class _Target:
    """One target's checks: the subjects fan-out collectors probe with, and failures."""

    client: Callable[[str], Any]  # the target's client of a service (cleanrooms, cleanroomsml)
    account: AccountConfig
    region: str
    subjects: dict[str, Any] = field(default_factory=dict)  # what fan-outs probe with
    failed: set[str] = field(default_factory=set)

    def check(self, spec: CollectorSpec[Any]) -> tuple[bool, str]:
        """One collector's check: whether it can poll, and the text after ok/FAILED."""
        text = self._probe(spec)
        return spec.name not in self.failed, text

    def _probe(self, spec: CollectorSpec[Any]) -> str:
        operation = spec.polling.operations[0]
        source = spec.polling.fans_out_from
        if source is not None and source in self.failed:
            self.failed.add(spec.name)
            return f": not tried, the {source} collector failed"
        if source is not None and self.subjects.get(source) is None:
            return f" (no ACTIVE collaboration yet to call {operation} on)"
        params = spec.shown.probe.params(self.subjects.get(source) if source else None)
        try:
            page = {spec.shown.probe.page_size: 1}
            answer = self.client(spec.polling.service).call(operation, **params, **page)
        except ApiError as err:
            return self._failed(spec, err)
        except SDK_ERRORS as err:
            return self._failed(spec, sdk_error(err, operation))
        self.subjects[spec.name] = spec.shown.probe.subject(answer)
        return ""

    def _failed(self, spec: CollectorSpec[Any], err: ApiError) -> str:
        if err.operation in CREDENTIALS or err.code in LOCAL_CREDENTIALS:
            raise CredentialsFailed(_failure(err, self.account, self.region))
        self.failed.add(spec.name)
        return _failure(err, self.account, self.region, spec)


@dataclass(frozen=True)
class Subject:
    """What a failed call was about: the account, the region, the service of the collector."""

    account: AccountConfig
    region: str = ""
    iam_prefix: str = "cleanrooms"
    service: str = "AWS Clean Rooms"


def _failure(
    err: ApiError, account: AccountConfig, region: str = "", spec: CollectorSpec[Any] | None = None
) -> str:
    subject = Subject(account, region)
    if spec is not None:
        title = SERVICE_TITLES[spec.polling.service]
        subject = Subject(account, region, spec.iam_prefix, title)
    return f": {err.operation}: {err.code}: {hint(err, subject)}"


Hint = Callable[[ApiError, Subject], str]
HINTS: tuple[tuple[Callable[[ApiError], bool], Hint], ...] = (
    (
        lambda e: e.operation == "AssumeRole" and e.code in DENIED,
        lambda e, s: (
            f"{s.account.role_arn} cannot be assumed: its trust policy must name the exporter's "
            "identity, with sts:ExternalId equal to the configured external_id (check both)"
        ),
    ),
    (
        lambda e: e.code in DENIED,
        lambda e, s: (
            f"allow {s.iam_prefix}:{e.operation} in the permission policy of {s.account.source}"
        ),
    ),
    (
        lambda e: e.code == "ProfileNotFound",
        lambda e, s: f"{e.message}: add it to ~/.aws/config (or AWS_CONFIG_FILE)",
    ),
    (
        lambda e: e.code in ("NoCredentialsError", "PartialCredentialsError"),
        lambda e, s: "no credentials for the default chain (environment, shared files, role)",
    ),
    (
        lambda e: e.code in BAD_KEYS,
        lambda e, s: "the credentials are not valid here: check the keys or the profile",
    ),
    (
        lambda e: e.code.startswith("ExpiredToken"),
        lambda e, s: "the credentials have expired: refresh them (aws sso login, a new session)",
    ),
    (
        lambda e: e.code in UNREACHABLE and e.operation in CREDENTIALS,
        lambda e, s: "STS did not answer: check the network path to it (or aws.endpoint_url)",
    ),
    (
        lambda e: e.code in UNREACHABLE,
        lambda e, s: f"{e.operation} did not answer in {s.region}: is {s.service} offered there?",
    ),
    (lambda e: e.code in THROTTLING_CODES, lambda e, s: "throttled: try again in a minute"),
)


def hint(err: ApiError, subject: Subject) -> str:
    """What to fix, in a sentence, for the errors a first day meets."""
    for matches, say in HINTS:
        if matches(err):
            return say(err, subject)
    return err.message or "see the AWS documentation of this error"
