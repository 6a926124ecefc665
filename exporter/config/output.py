"""What the exporter exports of what it polls: the ``metrics:`` section, and detail levels.

``metrics.allow`` and ``metrics.deny`` are kube-state-metrics' allow and deny lists: regular
expressions, each matching a whole family name as Prometheus stores it (``_total`` on
counters, ``_info`` on info families, a histogram's base name), for every family of
``/metrics``; deny wins. ``--metrics.allowlist`` and ``--metrics.denylist`` replace the
file's lists. A collector's ``detail`` (``collectors.NAME.detail``) folds its per-item or
per-membership series into coarser ones (``exporter.core.series.DETAILS``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from exporter.config.scale import SectionParser
from exporter.core.series import DETAILS

_KEYS = frozenset({"allow", "deny"})


@dataclass(frozen=True)
class MetricsFilter:
    """Families exported (none: all) and families not exported (deny wins)."""

    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()


def pattern_problem(pattern: Any) -> str | None:
    """Why ``pattern`` is not a regular expression the lists can use; None when it is."""
    if not isinstance(pattern, str) or not pattern:
        return f"must be a non-empty regular expression, got {pattern!r}"
    try:
        re.compile(pattern)
    except re.error as err:
        return f"not a regular expression ({err}): {pattern!r}"
    return None


def parse_metrics(parser: SectionParser, raw: Any) -> MetricsFilter:
    """The ``metrics:`` section; every bad pattern is reported with its path."""
    if raw is None:
        return MetricsFilter()
    if not isinstance(raw, dict):
        parser.problem("metrics", "must be a mapping with allow and deny lists")
        return MetricsFilter()
    parser.unknown_keys(raw, _KEYS, "metrics")
    lists = {}
    for key in ("allow", "deny"):
        value = raw.get(key) or []
        if not isinstance(value, list):
            parser.problem(f"metrics.{key}", "must be a list of regular expressions")
            value = []
        for index, pattern in enumerate(value):
            if problem := pattern_problem(pattern):
                parser.problem(f"metrics.{key}[{index}]", problem)
        lists[key] = tuple(str(p) for p in value)
    return MetricsFilter(lists["allow"], lists["deny"])


def parse_detail(parser: SectionParser, raw: dict[str, Any], path: str) -> str | None:
    """A collector's ``detail``: one of the levels, or None for its default (the finest)."""
    if "detail" not in raw:
        return None
    value = raw["detail"]
    if value not in DETAILS:
        parser.problem(f"{path}.detail", f"must be one of {', '.join(DETAILS)}, got {value!r}")
        return None
    return str(value)
