"""Load and validate the YAML configuration into frozen dataclasses.

Every problem is collected with its path (``accounts[1].role_arn: ...``) and
reported at once, so an operator fixes the whole file in one go.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from exporter.config.collectors import parse_collectors
from exporter.config.ids import account_id_problem, session_name_problem
from exporter.config.output import parse_metrics
from exporter.config.parser import (
    ConfigError,
    Parser,
    join,
    read_text,
    read_yaml,
)
from exporter.config.quotas import QuotaParser
from exporter.config.scale import parse_discovery, parse_rate_limit, parse_sharding
from exporter.config.sdk_facts import cleanrooms_regions
from exporter.config.settings import AccountConfig, AwsSettings, Config

FILTER_STATUSES = ("INVITED", "ACTIVE")
RETRY_MODES = ("legacy", "standard", "adaptive")

_ACCOUNT_RE = re.compile(r"^\d{12}$")
_ROLE_ARN_RE = re.compile(r"^arn:aws(?:-[a-z]+)*:iam::(\d{12}):role/[\w+=,.@/-]{1,512}$")
# ${NAME}, $$, or any other $ (with what follows it, to name the mistake).
_ENV_RE = re.compile(
    r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$\$|\$(?:\{[^}\s]*\}?|[A-Za-z_][A-Za-z0-9_]*)?"
)


def default_region(env: Mapping[str, str]) -> str:
    """The region of a config-less run: AWS_REGION, then AWS_DEFAULT_REGION, else us-east-1."""
    return env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"


def load_config(path: str | Path | None, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate a config file; ``None`` gives the documented defaults."""
    env = os.environ if env is None else env
    if path is None:
        return parse_config("", env)  # no file and an empty file mean the same
    text = read_text(path)
    try:
        return parse_config(text, env)
    except ConfigError as err:
        raise err.in_file(path) from None


def parse_config(text: str, env: Mapping[str, str]) -> Config:
    """Validate YAML text; raise ``ConfigError`` listing every problem."""
    lines: dict[str, int] = {}
    raw = read_yaml(text, lines)
    problems: list[str] = []
    raw = _expand_env(raw, env, "", problems)
    if not isinstance(raw, dict):
        raise ConfigError(["top level: must be a mapping"])
    try:
        config = _ConfigParser(problems, (default_region(env),), lines).config(raw)
    except (TypeError, ValueError, AttributeError) as err:
        # A shape no check anticipated (say, a mapping where a list of strings goes):
        # still one clear message and exit code 2, never a traceback.
        raise ConfigError([*problems, f"unexpected structure: {err}"]) from err
    if problems:
        raise ConfigError(problems)
    return config


def _expand_env(value: Any, env: Mapping[str, str], path: str, problems: list[str]) -> Any:
    """Replace ``${VAR}`` in every string, ``$$`` with ``$``; any other ``$`` is a problem.

    An unset variable is a problem, not an empty string; ``$VAR`` without braces and an
    unclosed ``${VAR`` are problems too, so their literal text never becomes a value
    (an external id above all). The value itself is never quoted: it may be a secret.
    """
    if isinstance(value, str):
        where = path or "top level"

        def substitute(match: re.Match[str]) -> str:
            found, name = match.group(0), match.group(1)
            if found == "$$":
                return "$"
            if name is None:
                problems.append(f"{where}: {_bad_dollar(found)}")
            elif name in env:
                return env[name]
            else:
                problems.append(f"{where}: environment variable {name} is not set")
            return found

        return _ENV_RE.sub(substitute, value)
    if isinstance(value, list):
        return [_expand_env(v, env, f"{path}[{i}]", problems) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: _expand_env(v, env, join(path, str(k)), problems) for k, v in value.items()}
    return value


def _bad_dollar(token: str) -> str:
    if token.startswith("${") and not token.endswith("}"):
        return f"{token} has no closing brace: write ${{NAME}} (or $$ for a literal $)"
    if token.startswith("${"):
        return f"{token} is not a variable name: write ${{NAME}} (or $$ for a literal $)"
    if len(token) > 1:
        return f"{token} is not expanded: write ${{{token[1:]}}} (or $$ for a literal $)"
    return "a lone $: write ${NAME} for a variable, $$ for a literal $"


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
        "quotas",
        "metrics",
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
_ACCOUNT_KEYS = frozenset({"id", "name", "role_arn", "external_id", "profile", "regions", "quotas"})


class _ConfigParser(Parser):
    """The exporter's own file: its sections and accounts."""

    def __init__(
        self,
        problems: list[str],
        default_regions: tuple[str, ...],
        lines: Mapping[str, int] | None = None,
    ) -> None:
        super().__init__(problems, lines)
        self.default_regions = default_regions  # when the file sets no regions
        self._known_regions = frozenset(cleanrooms_regions())

    def config(self, raw: dict[str, Any]) -> Config:
        self.unknown_keys(raw, _TOP_KEYS, "")
        defaults = Config()
        regions = self.regions(raw.get("regions", list(self.default_regions)), "regions")
        poll_interval = self.interval(raw, "poll_interval", defaults.poll_interval, "")
        config = Config(
            poll_interval=poll_interval,
            stale_after=self.duration(raw, "stale_after", defaults.stale_after, ""),
            concurrency=self.positive_int(raw, "concurrency", defaults.concurrency, ""),
            poll_workers=self.poll_workers(raw.get("poll_workers", defaults.poll_workers)),
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
            quotas=QuotaParser(self.problem).parse(raw.get("quotas"), "quotas"),
            metrics=parse_metrics(self, raw.get("metrics")),
        )
        if config.stale_after < config.poll_interval:
            self.problem("stale_after", "must be at least poll_interval")
        return config

    def poll_workers(self, value: Any) -> int | str:
        """A positive number of processes, or ``auto`` (one per usable core)."""
        if value == "auto":
            return "auto"
        if isinstance(value, str):
            self.problem("poll_workers", f"must be a positive integer or auto, got {value!r}")
            return 1
        return self.positive_int({"poll_workers": value}, "poll_workers", 1, "")

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
            if problem := account_id_problem(account):
                self.problem(f"trusted_creator_accounts[{i}]", problem)
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
        if problem := session_name_problem(name):
            self.problem("aws.role_session_name", problem)
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
        external_id = self.external_id(raw, path)
        if external_id and not role_arn:
            self.problem(join(path, "external_id"), "only makes sense with role_arn")
        regions = default_regions
        if "regions" in raw:
            regions = self.regions(raw["regions"], join(path, "regions"))
        return AccountConfig(
            id=account_id or _account_from_arn(role_arn),
            name=self.string(raw, "name", path) or "",
            role_arn=role_arn,
            external_id=external_id,
            profile=profile,
            regions=regions,
            quotas=QuotaParser(self.problem).parse(raw.get("quotas"), join(path, "quotas")),
        )

    def account_id(self, raw: dict[str, Any], path: str) -> str | None:
        value = raw.get("id")
        if value is None:
            return None
        if problem := account_id_problem(value):
            self.problem(join(path, "id"), problem)
            # Kept as given (the config fails anyway) so duplicates are judged by it.
        return str(value)

    def role_arn(self, raw: dict[str, Any], path: str, account_id: str | None) -> str | None:
        arn = self.string(raw, "role_arn", path)
        if arn is None:
            return None
        if not _ROLE_ARN_RE.match(arn):
            # Kept (the config fails anyway) so the duplicate check does not
            # mistake this account for one on the default credential chain.
            self.problem(join(path, "role_arn"), f"not an IAM role ARN: {arn!r}")
            return arn
        if account_id and _ACCOUNT_RE.match(account_id) and _account_from_arn(arn) != account_id:
            self.problem(join(path, "role_arn"), f"account differs from id {account_id}")
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
