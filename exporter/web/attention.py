"""The status page's "Memberships to act on": failed analyses and low budgets, per target.

Reads the protected_queries, protected_jobs and privacy_budgets collectors' data from
the snapshot (when those collectors are enabled and have data); renders HTML only.
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from exporter.collectors.analyses import AnalysesData
from exporter.collectors.privacy_budgets import BudgetsData, MembershipBudgets
from exporter.core.model import CollectorState, Snapshot, TargetKey

LOW = 0.10  # a budget with less than 10 % left is low, as CleanRoomsPrivacyBudgetLow says
FAILED = ("FAILED", "TIMED_OUT")
ANALYSES = (("protected_queries", "queries"), ("protected_jobs", "jobs"))
_HEADINGS = ("Account", "Region", "Membership", "Collaboration", "What")


@dataclass(frozen=True)
class Finding:
    """One thing a person should look at."""

    key: TargetKey
    membership_id: str
    what: str


def findings(snapshot: Snapshot) -> list[Finding]:
    """Failed analyses within lookback and low budgets, sorted by target and membership."""
    found: list[Finding] = []
    for name, noun in ANALYSES:
        for key, data in _data(snapshot, name, AnalysesData):
            found += _failed(key, data, noun)
    for key, budgets in _data(snapshot, "privacy_budgets", BudgetsData):
        for membership in budgets.memberships.values():
            found += [Finding(key, membership.membership_id, w) for w in _low(membership)]
    return sorted(found, key=lambda f: (f.key, f.membership_id, f.what))


def _data(snapshot: Snapshot, name: str, kind: type[Any]) -> Iterator[tuple[TargetKey, Any]]:
    states: Mapping[TargetKey, CollectorState[Any]] = snapshot.collectors.get(name, {})
    for key, state in states.items():
        if isinstance(state.data, kind):
            yield key, state.data


def _failed(key: TargetKey, data: AnalysesData, noun: str) -> list[Finding]:
    out = []
    for membership in data.memberships.values():
        failed = {s: membership.counts.get(s, 0) for s in FAILED if membership.counts.get(s)}
        if failed:
            parts = ", ".join(f"{n} {s}" for s, n in failed.items())
            out.append(Finding(key, membership.membership_id, f"{noun} failed recently: {parts}"))
    return out


def _low(membership: MembershipBudgets) -> list[str]:
    out = []
    if membership.differential is not None:
        for agg in membership.differential.aggregations:
            if agg.max_count > 0 and agg.remaining < LOW * agg.max_count:
                out.append(
                    f"differential-privacy budget {agg.type}: {agg.remaining} of "
                    f"{agg.max_count} queries left"
                )
    for access in membership.access:
        for period in access.periods:
            if period.limit > 0 and period.remaining < LOW * period.limit:
                out.append(
                    f"access budget {period.budget_type} of {access.resource_arn}: "
                    f"{period.remaining} of {period.limit} left"
                )
    return out


def attention_section(snapshot: Snapshot) -> str:
    """The HTML table, or a line saying there is nothing to act on."""
    found = findings(snapshot)
    if not found:
        return (
            '<p id="no-attention" class="up">No membership has failed analyses or a low '
            "budget (or those collectors are off).</p>"
        )
    names = _collaboration_names(snapshot)
    rows = "\n".join(_row(f, names.get((f.key, f.membership_id), "")) for f in found)
    head = "".join(f"<th>{h}</th>" for h in _HEADINGS)
    head = f"<tr>{head}</tr>"
    return f'<table id="attention"><thead>{head}</thead><tbody>\n{rows}\n</tbody></table>'


def _collaboration_names(snapshot: Snapshot) -> dict[tuple[TargetKey, str], str]:
    names = {}
    for key, state in snapshot.states.items():
        if state.data is not None:
            for c in state.data.collaborations:
                if c.membership_id:
                    names[(key, c.membership_id)] = c.name
    return names


def _row(finding: Finding, collaboration: str) -> str:
    account, region = finding.key
    cells = (account, region, finding.membership_id, collaboration, finding.what)
    tds = "".join(f"<td>{html.escape(text)}</td>" for text in cells)
    return f'<tr class="failed">{tds}</tr>'
