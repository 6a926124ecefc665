"""The status page's findings: what every collector finds, grouped by kind, then collaboration.

Each collector that has something to say (a ``findings`` in its SPEC) says it from its own
data: a kind ("Failed work"), a severity and a weight. The page only groups and orders:
kinds that need action first, then those at a limit, then information; within a kind,
the collaborations with the worst finding first. A kind shows its worst few rows, the rest
fold under "and N more", so the page stays short at any number of memberships.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from itertools import groupby
from typing import Any

from exporter.collectors import REGISTRY, CollectorSpec
from exporter.core.model import ACTION, AT_LIMIT, INFO, SEVERITIES, Finding, Snapshot, TargetKey

# Rows of a kind shown before "and N more", by severity: the page stays short.
SHOWN = {ACTION: 3, AT_LIMIT: 2, INFO: 2}
# Rows of a kind listed at all, shown or folded: past these /metrics has the rest. Bounds
# the page's size and render time at any number of memberships.
LISTED = 50

FindingsOf = Callable[[TargetKey, Any, float], list[Finding]]


def _findings_of(spec: CollectorSpec[Any]) -> FindingsOf | None:
    """The collector's findings function, if it has one: the page's one way to reach it."""
    return spec.shown.findings


@dataclass(frozen=True, slots=True)
class Row:
    """One finding as the page shows it: names first, identifiers after."""

    finding: Finding
    collaboration: str  # the name; "" when the finding belongs to no known collaboration
    collaboration_id: str
    account: str  # the account's name from the config, or its id
    parts: tuple[tuple[str, str], ...]  # the text in pieces: (piece, ARN it names or "")
    span: int = 1  # rows the collaboration cell spans; 0: the row above holds it


@dataclass(frozen=True, slots=True)
class Group:
    """Every finding of one kind, worst collaborations first, split into shown and folded."""

    kind: str
    severity: str
    memberships: int  # distinct memberships with a finding of this kind
    targets: int  # distinct targets with an account-wide finding (no membership)
    collaborations: int
    shown: tuple[Row, ...]
    more: tuple[Row, ...]  # folded under "and N more"
    unlisted: int  # past LISTED: counted, not listed

    @property
    def affected(self) -> int:
        """Memberships plus account-wide targets: what the summary line counts."""
        return self.memberships + self.targets

    @property
    def size(self) -> int:
        return len(self.shown) + len(self.more) + self.unlisted


def findings(snapshot: Snapshot, now: float | None = None) -> list[Finding]:
    """What every enabled collector finds in its fresh-or-not data, most urgent first.

    A membership's findings count while its collaboration is ACTIVE, as its series do.
    """
    now = time.time() if now is None else now
    active = {
        (key, c.membership_id)
        for key, state in snapshot.states.items()
        for c in getattr(state.data, "collaborations", ())
        if c.member_status == "ACTIVE"
    }
    found: list[Finding] = []
    for spec in REGISTRY:
        find = _findings_of(spec)
        if find is None:
            continue
        for key, state in snapshot.collectors.get(spec.name, {}).items():
            if state.data is None:
                continue
            found += [
                f if f.kind else replace(f, kind=spec.name)
                for f in find(key, state.data, now)
                if not f.membership_id or (key, f.membership_id) in active
            ]
    return sorted(found, key=_urgent)


def _urgent(finding: Finding) -> tuple[Any, ...]:
    rank = SEVERITIES.index(finding.severity)
    return (
        rank,
        finding.urgency,
        -finding.weight,
        finding.key,
        finding.membership_id,
        finding.what,
    )


def groups(snapshot: Snapshot, now: float | None = None) -> list[Group]:
    """The findings by kind, most pressing kind first."""
    by_kind: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings(snapshot, now):
        by_kind[finding.kind].append(finding)
    names = _collaborations(snapshot)
    aliases = {key: state.target.account_name for key, state in snapshot.states.items()}
    built = [
        (_group(kind, found, names, aliases), found[0].urgency) for kind, found in by_kind.items()
    ]
    # Most pressing: by severity, then the kind's most urgent finding (an exhausted budget
    # before a failure), then the kind that touches the most memberships.
    ordered = sorted(
        built, key=lambda g: (SEVERITIES.index(g[0].severity), g[1], -g[0].affected, g[0].kind)
    )
    return [group for group, _ in ordered]


def _group(
    kind: str,
    found: list[Finding],
    names: dict[tuple[TargetKey, str], tuple[str, str]],
    aliases: dict[TargetKey, str],
) -> Group:
    places: dict[tuple[Any, ...], list[Row]] = defaultdict(list)
    for finding in found:  # already worst first, so the worst place comes first
        name, cid = names.get((finding.key, finding.membership_id), ("", ""))
        account = aliases.get(finding.key) or finding.key[0]
        row = Row(finding, name, cid, account, ())
        places[_place(row)].append(row)
    rows = [row for place in places.values() for row in place][:LISTED]
    rows = [replace(r, parts=_pieces(r.finding.what, r.finding.resources)) for r in rows]
    severity = min((f.severity for f in found), key=SEVERITIES.index)
    shown = SHOWN[severity]
    return Group(
        kind=kind,
        severity=severity,
        memberships=len({(f.key, f.membership_id) for f in found if f.membership_id}),
        targets=len({f.key for f in found if not f.membership_id}),
        collaborations=len({p[0].collaboration_id for p in places.values()} - {""}),
        shown=_spans(rows[:shown]),
        more=_spans(rows[shown:]),
        unlisted=len(found) - len(rows),
    )


def _spans(rows: list[Row]) -> tuple[Row, ...]:
    """The rows with the collaboration cell on the first of each run of one place."""
    out: list[Row] = []
    for _, run in groupby(rows, key=_place):
        first, *rest = run
        out += [replace(first, span=1 + len(rest)), *(replace(r, span=0) for r in rest)]
    return tuple(out)


def _place(row: Row) -> tuple[Any, ...]:
    """Where a finding is: its collaboration, or its membership (or target) when unknown."""
    if row.collaboration_id:
        return (row.collaboration_id,)
    return (row.finding.key, row.finding.membership_id)


def _collaborations(snapshot: Snapshot) -> dict[tuple[TargetKey, str], tuple[str, str]]:
    """(target, membership id) -> (collaboration name, id), from the collaborations data."""
    names = {}
    for key, state in snapshot.states.items():
        for c in getattr(state.data, "collaborations", ()):
            if c.membership_id:
                names[(key, c.membership_id)] = (c.name, c.id)
    return names


def _pieces(text: str, resources: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """The text cut around each ARN of ``resources``: (its name, the ARN) for each."""
    pieces: list[tuple[str, str]] = [(text, "")]
    for arn in resources:
        name = arn.rsplit("/", 1)[-1].rsplit(":", 1)[-1] or arn
        cut: list[tuple[str, str]] = []
        for piece, title in pieces:
            if title:
                cut.append((piece, title))
                continue
            before, *after = piece.split(arn)
            cut.append((before, ""))
            for rest in after:
                cut += [(name, arn), (rest, "")]
        pieces = cut
    return tuple((piece, title) for piece, title in pieces if piece)
