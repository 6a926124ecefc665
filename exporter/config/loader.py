"""Load and validate the YAML configuration into frozen dataclasses.

Every problem is collected with its path (``accounts[1].role_arn: ...``) and
reported at once, so an operator fixes the whole file in one go.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from exporter.config.collectors import (
    CollectorConfig,
    CollectorSchedule,
    parse_collectors,
    schedules,
)
from exporter.config.regions import cleanrooms_regions
from exporter.config.scale import (
    OrganizationsDiscovery,
    RateLimit,
    Sharding,
    parse_discovery,
    parse_rate_limit,
    parse_sharding,
)

__all__ = ["CollectorConfig", "Config", "ConfigError", "load_config"]
SECRET_KEYS = frozenset({"external_id"})
FILTER_STATUSES = ("INVITED", "ACTIVE")
RETRY_MODES = ("legacy", "standard", "adaptive")

_DURATION_RE = re.compile(r"^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$")
_ACCOUNT_RE = re.compile(r"^\d{12}$")
_ROLE_ARN_RE = re.compile(r"^arn:aws(?:-[a-z]+)*:iam::(\d{12}):role/[\w+=,.@/-]{1,512}$")
_ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigError(Exception):
    """The configuration is invalid; ``problems`` lists each one with its path.

    ``source`` names the file the problems were found in, when there is one.
    """

    def __init__(self, problems: list[str], source: str | Path | None = None) -> None:
        self.problems = problems
        self.source = None if source is None else str(source)
        where = f" in {self.source}" if self.source else ""
        super().__init__(f"invalid configuration{where}:\n" + "\n".join(f"  {p}" for p in problems))

    def in_file(self, source: str | Path) -> ConfigError:
        """The same problems, naming the file they were found in."""
        return ConfigError(self.problems, source)


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
    poll_workers: int = 1  # processes that poll; 1 polls in the main process
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

    def schedules(self) -> tuple[CollectorSchedule, ...]:
        """The enabled collectors with their effective interval and staleness."""
        return schedules(self.collectors, self.poll_interval, self.stale_after)


def parse_duration(text: str) -> float:
    """Parse a Prometheus-style duration (``90s``, ``5m``, ``1h30m``, ``250ms``) to seconds."""
    match = _DURATION_RE.match(text.strip()) if text.strip() else None
    if not match or not any(match.groups()):
        raise ValueError(f"invalid duration {text!r} (use e.g. 30s, 5m, 1h)")
    hours, minutes, seconds, millis = (int(g) if g else 0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds + millis / 1000


def default_region(env: Mapping[str, str]) -> str:
    """The region of a config-less run: AWS_REGION, then AWS_DEFAULT_REGION, else us-east-1."""
    return env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"


def load_config(path: str | Path | None, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate a config file; ``None`` gives the documented defaults."""
    env = os.environ if env is None else env
    if path is None:
        regions = (default_region(env),)
        return Config(regions=regions, accounts=(AccountConfig(regions=regions),))
    text = read_text(path)
    try:
        return parse_config(text, env)
    except ConfigError as err:
        raise err.in_file(path) from None


def read_text(path: str | Path) -> str:
    """A config file's text; unreadable or non-UTF-8 files are a ``ConfigError`` naming it."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise ConfigError([f"cannot read: {err.strerror or err}"], path) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        problem = f"line {line}, column {column}: not UTF-8 text (byte {data[err.start]:#04x})"
        raise ConfigError([problem], path) from None


def read_yaml(text: str) -> Any:
    """``yaml.safe_load`` with a syntax error as a ``ConfigError``; an empty file is ``{}``.

    A syntax error gives its line and column (1-based), as an editor counts them.
    """
    try:
        raw = yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        raise ConfigError([_yaml_problem(err)]) from None
    except yaml.YAMLError as err:
        raise ConfigError([f"yaml: {' '.join(str(err).split())}"]) from None
    except RecursionError:  # PyYAML's composer recurses once per level: [[[[...
        raise ConfigError(["yaml: nested too deeply"]) from None
    return {} if raw is None else raw


def _yaml_problem(err: yaml.MarkedYAMLError) -> str:
    mark = err.problem_mark or err.context_mark
    problem = " ".join(str(err.problem or err.context or "syntax error").split())
    if mark is None:
        return f"yaml: {problem}"
    context = ""
    if err.context and err.problem and err.context_mark and err.context_mark.line != mark.line:
        context = f" ({err.context} at line {err.context_mark.line + 1})"
    return f"line {mark.line + 1}, column {mark.column + 1}: yaml: {problem}{context}"


def parse_config(text: str, env: Mapping[str, str]) -> Config:
    """Validate YAML text; raise ``ConfigError`` listing every problem."""
    raw = read_yaml(text)
    problems: list[str] = []
    raw = _expand_env(raw, env, "", problems)
    if not isinstance(raw, dict):
        raise ConfigError(["top level: must be a mapping"])
    try:
        config = _Parser(problems).config(raw)
    except (TypeError, ValueError, AttributeError) as err:
        # A shape no check anticipated (say, a mapping where a list of strings goes):
        # still one clear message and exit code 2, never a traceback.
        raise ConfigError([*problems, f"unexpected structure: {err}"]) from err
    if problems:
        raise ConfigError(problems)
    return config


def _expand_env(value: Any, env: Mapping[str, str], path: str, problems: list[str]) -> Any:
    """Replace ``${VAR}`` in every string; an unset variable is a problem, not an empty string."""
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                problems.append(f"{path or 'top level'}: environment variable {name} is not set")
                return match.group(0)
            return env[name]

        return _ENV_RE.sub(substitute, value)
    if isinstance(value, list):
        return [_expand_env(v, env, f"{path}[{i}]", problems) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: _expand_env(v, env, _join(path, str(k)), problems) for k, v in value.items()}
    return value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


_TOP_KEYS = frozenset(
    {
        "poll_interval",
        "stale_after",
        "concurrency",
        "poll_workers",
        "regions",
        "member_status",
        "per_collaboration_metrics",
        "trusted_creator_accounts",
        "max_pages_per_poll",
        "discovery",
        "sharding",
        "rate_limit",
        "aws",
        "accounts",
        "collectors",
    }
)
_AWS_KEYS = frozenset(
    {
        "endpoint_url",
        "role_session_name",
        "retry_mode",
        "max_attempts",
        "connect_timeout",
        "read_timeout",
    }
)
_ACCOUNT_KEYS = frozenset({"id", "name", "role_arn", "external_id", "profile", "regions"})


class _Parser:
    """Field-by-field validation that records problems instead of stopping at the first."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        self._known_regions = frozenset(cleanrooms_regions())

    def problem(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def config(self, raw: dict[str, Any]) -> Config:
        self.unknown_keys(raw, _TOP_KEYS, "")
        defaults = Config()
        regions = self.regions(raw.get("regions", list(defaults.regions)), "regions")
        poll_interval = self.duration(raw, "poll_interval", defaults.poll_interval, "")
        config = Config(
            poll_interval=poll_interval,
            stale_after=self.duration(raw, "stale_after", defaults.stale_after, ""),
            concurrency=self.positive_int(raw, "concurrency", defaults.concurrency, ""),
            poll_workers=self.positive_int(raw, "poll_workers", defaults.poll_workers, ""),
            regions=regions,
            member_status=self.member_status(raw.get("member_status")),
            per_collaboration_metrics=self.boolean(raw, "per_collaboration_metrics", True),
            trusted_creator_accounts=self.trusted(raw.get("trusted_creator_accounts", [])),
            max_pages_per_poll=self.positive_int(
                raw, "max_pages_per_poll", defaults.max_pages_per_poll, ""
            ),
            aws=self.aws(raw.get("aws", {})),
            accounts=self.accounts(raw, regions),
            discovery=parse_discovery(self, raw.get("discovery")),
            sharding=parse_sharding(self, raw.get("sharding")),
            rate_limit=parse_rate_limit(self, raw.get("rate_limit")),
            collectors=parse_collectors(self, raw.get("collectors"), poll_interval),
        )
        if config.stale_after < config.poll_interval:
            self.problem("stale_after", "must be at least poll_interval")
        return config

    def unknown_keys(self, raw: dict[str, Any], allowed: frozenset[str], path: str) -> None:
        for key in raw:
            if key not in allowed:
                self.problem(_join(path, str(key)), "unknown key")

    def duration(self, raw: dict[str, Any], key: str, default: float, path: str) -> float:
        value = raw.get(key)
        if value is None:
            return default
        where = _join(path, key)
        if not isinstance(value, str):
            self.problem(where, f"must be a duration string like 30s or 5m, got {value!r}")
            return default
        try:
            seconds = parse_duration(value)
        except ValueError as err:
            self.problem(where, str(err))
            return default
        if seconds <= 0:
            self.problem(where, "must be greater than zero")
        return seconds

    def positive_int(self, raw: dict[str, Any], key: str, default: int, path: str) -> int:
        value = raw.get(key, default)
        where = _join(path, key)
        if not isinstance(value, int) or isinstance(value, bool):
            self.problem(where, f"must be an integer, got {value!r}")
            return default
        if value <= 0:
            self.problem(where, "must be greater than zero")
        return value

    def boolean(self, raw: dict[str, Any], key: str, default: bool) -> bool:
        value = raw.get(key, default)
        if not isinstance(value, bool):
            self.problem(key, f"must be true or false, got {value!r}")
            return default
        return value

    def string(self, raw: dict[str, Any], key: str, path: str) -> str | None:
        value = raw.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            # An external id is a secret: say what is wrong without repeating it.
            got = "" if key in SECRET_KEYS else f", got {value!r}"
            self.problem(_join(path, key), f"must be a non-empty string{got}")
            return None
        return value

    def member_status(self, value: Any) -> str | None:
        if value is None:
            return None
        if value not in FILTER_STATUSES:
            self.problem("member_status", f"must be one of {', '.join(FILTER_STATUSES)} or null")
            return None
        return str(value)

    def regions(self, value: Any, path: str) -> tuple[str, ...]:
        if value in ("all", ["all"]):
            return tuple(sorted(self._known_regions))
        if not isinstance(value, list) or not value:
            self.problem(path, "must be a non-empty list of region names, or the word all")
            return ()
        regions: list[str] = []
        for i, region in enumerate(value):
            if not isinstance(region, str) or region not in self._known_regions:
                self.problem(f"{path}[{i}]", f"unknown Clean Rooms region {region!r}")
            elif region in regions:
                self.problem(f"{path}[{i}]", f"region {region} is listed twice")
            else:
                regions.append(region)
        return tuple(regions)

    def trusted(self, value: Any) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.problem("trusted_creator_accounts", "must be a list of 12-digit account ids")
            return ()
        for i, account in enumerate(value):
            if not isinstance(account, str) or not _ACCOUNT_RE.match(account):
                self.problem(
                    f"trusted_creator_accounts[{i}]",
                    f"must be a quoted 12-digit account id, got {account!r}",
                )
        return tuple(str(a) for a in value)

    def aws(self, raw: Any) -> AwsSettings:
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            self.problem("aws", "must be a mapping")
            return AwsSettings()
        self.unknown_keys(raw, _AWS_KEYS, "aws")
        defaults = AwsSettings()
        endpoint = self.string(raw, "endpoint_url", "aws")
        if endpoint and not re.match(r"^https?://[^\s/]+", endpoint):
            self.problem("aws.endpoint_url", f"must be an http(s) URL, got {endpoint!r}")
        mode = raw.get("retry_mode", defaults.retry_mode)
        if mode not in RETRY_MODES:
            self.problem("aws.retry_mode", f"must be one of {', '.join(RETRY_MODES)}")
            mode = defaults.retry_mode
        return AwsSettings(
            endpoint_url=endpoint,
            role_session_name=self.session_name(raw),
            retry_mode=str(mode),
            max_attempts=self.positive_int(raw, "max_attempts", defaults.max_attempts, "aws"),
            connect_timeout=self.duration(raw, "connect_timeout", defaults.connect_timeout, "aws"),
            read_timeout=self.duration(raw, "read_timeout", defaults.read_timeout, "aws"),
        )

    def session_name(self, raw: dict[str, Any]) -> str:
        name = self.string(raw, "role_session_name", "aws") or AwsSettings().role_session_name
        if not re.match(r"^[\w+=,.@-]{2,64}$", name):
            self.problem("aws.role_session_name", "must be 2-64 characters of [A-Za-z0-9+=,.@_-]")
        return name

    def accounts(
        self, config: dict[str, Any], default_regions: tuple[str, ...]
    ) -> tuple[AccountConfig, ...]:
        # With discovery, the static list is optional and may be empty.
        discovering = config.get("discovery") is not None
        raw = config.get("accounts", [] if discovering else [{}])
        if not isinstance(raw, list) or not (raw or discovering):
            self.problem("accounts", "must be a non-empty list")
            return ()
        accounts = tuple(
            self.account(item, f"accounts[{i}]", default_regions) for i, item in enumerate(raw)
        )
        self.check_duplicates(accounts)
        return accounts

    def account(self, raw: Any, path: str, default_regions: tuple[str, ...]) -> AccountConfig:
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            self.problem(path, "must be a mapping")
            return AccountConfig()
        self.unknown_keys(raw, _ACCOUNT_KEYS, path)
        account_id = self.account_id(raw, path)
        role_arn = self.role_arn(raw, path, account_id)
        profile = self.string(raw, "profile", path)
        if role_arn and profile:
            self.problem(path, "role_arn and profile are mutually exclusive")
        external_id = self.string(raw, "external_id", path)
        if external_id and not role_arn:
            self.problem(_join(path, "external_id"), "only makes sense with role_arn")
        regions = default_regions
        if "regions" in raw:
            regions = self.regions(raw["regions"], _join(path, "regions"))
        return AccountConfig(
            id=account_id or _account_from_arn(role_arn),
            name=self.string(raw, "name", path) or "",
            role_arn=role_arn,
            external_id=external_id,
            profile=profile,
            regions=regions,
        )

    def account_id(self, raw: dict[str, Any], path: str) -> str | None:
        value = raw.get("id")
        if value is None:
            return None
        if not isinstance(value, str) or not _ACCOUNT_RE.match(value):
            self.problem(_join(path, "id"), f"must be a quoted 12-digit account id, got {value!r}")
            # Kept as given (the config fails anyway) so duplicates are judged by it.
        return str(value)

    def role_arn(self, raw: dict[str, Any], path: str, account_id: str | None) -> str | None:
        arn = self.string(raw, "role_arn", path)
        if arn is None:
            return None
        if not _ROLE_ARN_RE.match(arn):
            # Kept (the config fails anyway) so the duplicate check does not
            # mistake this account for one on the default credential chain.
            self.problem(_join(path, "role_arn"), f"not an IAM role ARN: {arn!r}")
            return arn
        if account_id and _ACCOUNT_RE.match(account_id) and _account_from_arn(arn) != account_id:
            self.problem(_join(path, "role_arn"), f"account differs from id {account_id}")
        return arn

    def check_duplicates(self, accounts: tuple[AccountConfig, ...]) -> None:
        seen: dict[tuple[str, str], int] = {}
        for i, account in enumerate(accounts):
            key = account.id or account.source
            for region in account.regions:
                first = seen.get((key, region))
                if first is not None:
                    message = f"duplicate target ({key}, {region}), also in accounts[{first}]"
                    self.problem(f"accounts[{i}]", message)
                else:
                    seen[(key, region)] = i


def _account_from_arn(arn: str | None) -> str | None:
    match = _ROLE_ARN_RE.match(arn) if arn else None
    return match.group(1) if match else None
