"""The status page's "Cost and failures": what each collaboration's analyses cost, per target.

Sums what every collector with a ``spend`` in its SPEC reports (protected queries and
jobs: the CRPU-hours their Gets found, the failures of their listing) within the
collectors' lookback, most expensive first. Renders HTML only; no JavaScript.
"""

from __future__ import annotations

import html
from collections import defaultdict

from exporter.collectors import REGISTRY
from exporter.core.model import Snapshot, Spend, TargetKey

_HEADINGS = ("Account", "Region", "Collaboration", "CRPU-hours", "Failed analyses", "Over")


def spending(snapshot: Snapshot) -> list[Spend]:
    """Per (target, collaboration): summed over the collectors, most expensive first."""
    total: dict[tuple[TargetKey, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for spec in REGISTRY:
        if spec.shown.spend is None:
            continue
        for key, state in snapshot.collectors.get(spec.name, {}).items():
            if state.data is None:
                continue
            for item in spec.shown.spend(key, state.data):
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


def spend_section(snapshot: Snapshot) -> str:
    """The HTML table, or a line saying there is nothing to show."""
    found = spending(snapshot)
    if not found:
        return (
            '<p id="no-spend">No cost or failure to show (the protected_queries and '
            "protected_jobs collectors are off, or nothing finished yet).</p>"
        )
    names, aliases = _names(snapshot)
    rows = "\n".join(_row(s, aliases.get(s.key, ""), names.get(s.key, {})) for s in found)
    head = "".join(f"<th>{h}</th>" for h in _HEADINGS)
    return f'<table id="spend"><thead><tr>{head}</tr></thead><tbody>\n{rows}\n</tbody></table>'


def _names(snapshot: Snapshot) -> tuple[dict[TargetKey, dict[str, str]], dict[TargetKey, str]]:
    names: dict[TargetKey, dict[str, str]] = {}
    aliases = {}
    for key, state in snapshot.states.items():
        aliases[key] = state.target.account_name
        names[key] = {c.id: c.name for c in getattr(state.data, "collaborations", ())}
    return names, aliases


def _row(spend: Spend, alias: str, names: dict[str, str]) -> str:
    account, region = spend.key
    cells = [
        f"{account} ({alias})" if alias else account,
        region,
        names.get(spend.collaboration_id, spend.collaboration_id),
        f"{spend.crpu_hours:.2f}",
        str(spend.failed),
        _window(spend.window),
    ]
    tds = "".join(f"<td>{html.escape(text)}</td>" for text in cells)
    return f'<tr data-collaboration-id="{html.escape(spend.collaboration_id)}">{tds}</tr>'


def _window(seconds: float) -> str:
    hours = seconds / 3600
    return f"last {hours:g}h" if hours >= 1 else f"last {seconds / 60:g}m"
