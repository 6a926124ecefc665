"""The status page's "Cost and failures": what each collaboration's analyses cost, per target.

Sums what every collector with a ``spend`` in its SPEC reports (protected queries and
jobs: the CRPU-hours their Gets found, the failures of their listing) within the
collectors' lookback, most expensive first. The template shows the first few rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from exporter.collectors import REGISTRY, CollectorSpec
from exporter.core.model import Snapshot, Spend, TargetKey

SpendOf = Callable[[TargetKey, Any], list[Spend]]


def _spend_of(spec: CollectorSpec[Any]) -> SpendOf | None:
    """The collector's spend function, if it has one: the page's one way to reach it."""
    return spec.shown.spend


@dataclass(frozen=True, slots=True)
class SpendRow:
    """One collaboration's cost on one target, as the page shows it: its name first."""

    spend: Spend
    collaboration: str  # the name; "" when the collaborations data does not know it
    account: str  # the account's name from the config, or its id
    over: str  # the window: "last 24h"


def spending(snapshot: Snapshot) -> list[Spend]:
    """Per (target, collaboration): summed over the collectors, most expensive first."""
    total: dict[tuple[TargetKey, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for spec in REGISTRY:
        spend_of = _spend_of(spec)
        if spend_of is None:
            continue
        for key, state in snapshot.collectors.get(spec.name, {}).items():
            if state.data is None:
                continue
            for item in spend_of(key, state.data):
                row = total[(key, item.collaboration_id)]
                row[0] += item.crpu_hours
                row[1] += item.failed
                row[2] = max(row[2], item.window)
    found = [
        Spend(key, cid, cost, int(failed), window)
        for (key, cid), (cost, failed, window) in total.items()
        if cost or failed
    ]
    return sorted(found, key=lambda s: (-s.crpu_hours, -s.failed, s.key, s.collaboration_id))


def spend_rows(snapshot: Snapshot) -> list[SpendRow]:
    """``spending`` with names: the collaboration's and the account's."""
    names: dict[TargetKey, dict[str, str]] = {}
    aliases: dict[TargetKey, str] = {}
    for key, state in snapshot.states.items():
        aliases[key] = state.target.account_name
        names[key] = {c.id: c.name for c in getattr(state.data, "collaborations", ())}
    return [
        SpendRow(
            s,
            names.get(s.key, {}).get(s.collaboration_id, ""),
            aliases.get(s.key) or s.key[0],
            _window(s.window),
        )
        for s in spending(snapshot)
    ]


def _window(seconds: float) -> str:
    hours = seconds / 3600
    return f"last {hours:g}h" if hours >= 1 else f"last {seconds / 60:g}m"
