"""Configuration sections for large organisations: discovery, sharding, rate limits.

Kept apart from ``config.py`` so the core file stays readable; parsed with the
same problem-collecting parser, so errors carry their full path.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from exporter.config.ids import account_id_problem

_OU_RE = re.compile(r"^(ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|r-[0-9a-z]{4,32})$")
_ROLE_NAME_RE = re.compile(r"^[\w+=,.@/-]{1,512}$")
_ROLE_ARN_RE = re.compile(r"^arn:aws(?:-[a-z]+)*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")


@dataclass(frozen=True)
class OrganizationsDiscovery:
    """Accounts listed from AWS Organizations, each reached through the same role name."""

    role_arn: str | None = None  # role to call Organizations with; None: own credentials
    role_name: str = "CleanRoomsReadOnly"
    external_id: str | None = None
    include_accounts: tuple[str, ...] = ()
    exclude_accounts: tuple[str, ...] = ()
    include_ous: tuple[str, ...] = ()
    exclude_ous: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()  # empty: the top-level regions
    refresh_interval: float = 3600.0


@dataclass(frozen=True)
class Sharding:
    """This replica's share: ``index`` (a number, or ``auto`` for the pod ordinal) of ``count``."""

    index: int | str = 0
    count: int = 1


@dataclass(frozen=True)
class RateLimit:
    """Client-side limit on ListCollaborations attempts per account and region."""

    requests_per_second: float = 2.0  # 0 turns the limit off
    burst: int = 4


class SectionParser(Protocol):
    """The helpers of the exporter's file parser these sections use."""

    def problem(self, path: str, message: str) -> None: ...
    def key_problem(self, path: str, message: str) -> None: ...
    def unknown_keys(self, raw: dict[str, Any], allowed: frozenset[str], path: str) -> None: ...
    def duration(self, raw: dict[str, Any], key: str, default: float, path: str) -> float: ...
    def interval(self, raw: dict[str, Any], key: str, default: float, path: str) -> float: ...
    def boolean(self, raw: dict[str, Any], key: str, default: bool, path: str = "") -> bool: ...
    def positive_int(self, raw: dict[str, Any], key: str, default: int, path: str) -> int: ...
    def string(self, raw: dict[str, Any], key: str, path: str) -> str | None: ...
    def external_id(self, raw: dict[str, Any], path: str) -> str | None: ...
    def regions(self, value: Any, path: str) -> tuple[str, ...]: ...


def _section(p: SectionParser, raw: Any, path: str, keys: frozenset[str]) -> dict[str, Any] | None:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        p.problem(path, "must be a mapping")
        return None
    p.unknown_keys(raw, keys, path)
    return raw


def _ids(
    p: SectionParser, raw: dict[str, Any], key: str, path: str, check: Callable[[Any], str | None]
) -> tuple[str, ...]:
    value = raw.get(key, [])
    where = f"{path}.{key}"
    if not isinstance(value, list):
        p.problem(where, "must be a list")
        return ()
    for i, item in enumerate(value):
        if problem := check(item):
            p.problem(f"{where}[{i}]", problem)
    return tuple(str(v) for v in value)


def _ou_problem(value: Any) -> str | None:
    if isinstance(value, str) and _OU_RE.match(value):
        return None
    return f"not a valid id: {value!r}"


_DISCOVERY_KEYS = frozenset({"organizations"})
_ORG_KEYS = frozenset(
    {
        "role_arn",
        "role_name",
        "external_id",
        "include_accounts",
        "exclude_accounts",
        "include_ous",
        "exclude_ous",
        "regions",
        "refresh_interval",
    }
)


def parse_discovery(p: SectionParser, raw: Any) -> OrganizationsDiscovery | None:
    """The ``discovery`` section; None when absent."""
    if raw is None:
        return None
    section = _section(p, raw, "discovery", _DISCOVERY_KEYS)
    org = _section(p, (section or {}).get("organizations"), "discovery.organizations", _ORG_KEYS)
    if org is None or section is None or "organizations" not in section:
        if section is not None and "organizations" not in section:
            p.problem("discovery", "needs an organizations section")
        return None
    path = "discovery.organizations"
    defaults = OrganizationsDiscovery()
    role_arn = p.string(org, "role_arn", path)
    if role_arn and not _ROLE_ARN_RE.match(role_arn):
        p.problem(f"{path}.role_arn", f"not an IAM role ARN: {role_arn!r}")
    role_name = p.string(org, "role_name", path) or defaults.role_name
    if not _ROLE_NAME_RE.match(role_name):
        p.problem(f"{path}.role_name", f"not an IAM role name: {role_name!r}")
    return OrganizationsDiscovery(
        role_arn=role_arn,
        role_name=role_name.strip("/"),
        external_id=p.external_id(org, path),
        include_accounts=_ids(p, org, "include_accounts", path, account_id_problem),
        exclude_accounts=_ids(p, org, "exclude_accounts", path, account_id_problem),
        include_ous=_ids(p, org, "include_ous", path, _ou_problem),
        exclude_ous=_ids(p, org, "exclude_ous", path, _ou_problem),
        regions=p.regions(org["regions"], f"{path}.regions") if "regions" in org else (),
        refresh_interval=p.duration(org, "refresh_interval", defaults.refresh_interval, path),
    )


def parse_sharding(p: SectionParser, raw: Any) -> Sharding:
    section = _section(p, raw, "sharding", frozenset({"index", "count"}))
    if not section:
        return Sharding()
    count = p.positive_int(section, "count", 1, "sharding")
    index = section.get("index", 0)
    if index == "auto":
        return Sharding("auto", count)
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < count:
        p.problem(
            "sharding.index", f"must be auto or a number from 0 to {count - 1}, got {index!r}"
        )
        return Sharding(0, count)
    return Sharding(index, count)


def parse_rate_limit(p: SectionParser, raw: Any) -> RateLimit:
    section = _section(p, raw, "rate_limit", frozenset({"requests_per_second", "burst"}))
    if not section:
        return RateLimit()
    rate = section.get("requests_per_second", RateLimit().requests_per_second)
    if isinstance(rate, bool) or not isinstance(rate, int | float) or rate < 0:
        p.problem("rate_limit.requests_per_second", f"must be a number >= 0, got {rate!r}")
        rate = RateLimit().requests_per_second
    return RateLimit(float(rate), p.positive_int(section, "burst", RateLimit().burst, "rate_limit"))
