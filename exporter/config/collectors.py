"""The ``collectors:`` configuration section and ``--collector.NAME`` overrides.

Which collectors exist, and their defaults, come from the collector registry, so
a new collector module needs no change here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from exporter.collectors import BY_NAME, REGISTRY
from exporter.collectors.base import CollectorSpec
from exporter.config.output import parse_detail
from exporter.config.parser import did_you_mean
from exporter.config.scale import SectionParser
from exporter.core.series import DETAILS

_KEYS = frozenset({"enabled", "interval", "stale_after", "detail"})
STALE_INTERVALS = 3  # by default a collector's data is hidden after 3 missed polls


@dataclass(frozen=True)
class CollectorConfig:
    """One collector's settings as written; None means its default."""

    name: str
    enabled: bool | None = None
    interval: float | None = None
    stale_after: float | None = None
    options: tuple[tuple[str, float], ...] = ()  # the collector's own keys that were set
    detail: str | None = None  # the finest, "item", unless set


@dataclass(frozen=True)
class CollectorSchedule:
    """One enabled collector's effective settings."""

    name: str
    interval: float
    stale_after: float
    options: tuple[tuple[str, float], ...] = ()  # every option of the collector, resolved
    detail: str = DETAILS[0]  # what its series are kept per (``core.series.DETAILS``)

    def option(self, name: str) -> float:
        return dict(self.options)[name]


def parse_collectors(
    parser: SectionParser, raw: Any, poll_interval: float
) -> tuple[CollectorConfig, ...]:
    """Validate the section; every problem is reported with its path."""
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        parser.problem("collectors", "must be a mapping of collector names to settings")
        return ()
    entries = []
    for name, body in raw.items():
        path = f"collectors.{name}"
        if name not in BY_NAME:
            guess = did_you_mean(str(name), BY_NAME)
            parser.key_problem(path, f"unknown collector{guess} (known: {', '.join(BY_NAME)})")
        elif body is None or isinstance(body, dict):
            entries.append(_entry(parser, str(name), body or {}, path, poll_interval))
        else:
            parser.problem(path, "must be a mapping (use {} for the defaults)")
    return tuple(entries)


def _entry(
    parser: SectionParser, name: str, raw: dict[str, Any], path: str, poll_interval: float
) -> CollectorConfig:
    spec = BY_NAME[name]
    parser.unknown_keys(raw, _KEYS | {o.name for o in spec.polling.options}, path)
    enabled = raw.get("enabled")
    if enabled is not None and not isinstance(enabled, bool):
        parser.problem(f"{path}.enabled", f"must be true or false, got {enabled!r}")
        enabled = None
    if spec.polling.primary:
        if enabled is False:
            parser.problem(f"{path}.enabled", f"the {name} collector is always on")
        for key, top in (("interval", "poll_interval"), ("stale_after", "stale_after")):
            if key in raw:
                parser.problem(f"{path}.{key}", f"follows the top-level {top}; set that instead")
    interval = parser.interval(raw, "interval", 0.0, path) if "interval" in raw else None
    stale = parser.duration(raw, "stale_after", 0.0, path) if "stale_after" in raw else None
    if stale is not None and stale < (interval or poll_interval):
        parser.problem(f"{path}.stale_after", "must be at least the collector's interval")
    options = _options(parser, spec, raw, path)
    detail = parse_detail(parser, raw, path)
    return CollectorConfig(name, enabled, interval, stale, options, detail)


def _options(
    parser: SectionParser, spec: CollectorSpec[Any], raw: dict[str, Any], path: str
) -> tuple[tuple[str, float], ...]:
    found = []
    for option in spec.polling.options:
        if option.name not in raw:
            continue
        if option.kind == "duration":
            value = parser.duration(raw, option.name, option.default, path)
        elif option.kind == "bool":
            value = float(parser.boolean(raw, option.name, bool(option.default), path))
        else:
            value = float(parser.positive_int(raw, option.name, int(option.default), path))
        found.append((option.name, value))
    return tuple(found)


def with_overrides(
    entries: tuple[CollectorConfig, ...], overrides: dict[str, bool]
) -> tuple[CollectorConfig, ...]:
    """Apply ``--collector.NAME`` / ``--no-collector.NAME``: flags win over the file."""
    by_name = {e.name: e for e in entries}
    for name, enabled in overrides.items():
        by_name[name] = replace(by_name.get(name, CollectorConfig(name)), enabled=enabled)
    return tuple(by_name[spec.name] for spec in REGISTRY if spec.name in by_name)


def schedules(
    entries: tuple[CollectorConfig, ...], poll_interval: float, stale_after: float
) -> tuple[CollectorSchedule, ...]:
    """The enabled collectors in registry order, defaults filled in; collaborations first."""
    by_name = {e.name: e for e in entries}
    enabled = []
    for spec in REGISTRY:
        entry = by_name.get(spec.name, CollectorConfig(spec.name))
        on = spec.polling.default_enabled if entry.enabled is None else entry.enabled
        if not (on or spec.polling.primary):
            continue
        detail = entry.detail or DETAILS[0]
        if spec.polling.primary:
            # Its schedule is the target's own: poll_interval and stale_after, unchanged.
            enabled.append(CollectorSchedule(spec.name, poll_interval, stale_after, (), detail))
            continue
        interval = entry.interval or spec.polling.default_interval or poll_interval
        stale = entry.stale_after or max(stale_after, STALE_INTERVALS * interval)
        options = {o.name: o.default for o in spec.polling.options} | dict(entry.options)
        found = CollectorSchedule(spec.name, interval, stale, tuple(options.items()), detail)
        enabled.append(found)
    return tuple(enabled)
