"""The status page's "Memberships to act on": what each collector finds, most urgent first.

Each collector that has something to say (a ``findings`` in its SPEC) says it from its
own data; the page only sorts and renders. Exhausted budgets first, then failures, then
what runs low; within each, by account and membership. No JavaScript: resource ARNs
are shortened to their names, the whole ARN in the cell's title (shown on hover).
"""

from __future__ import annotations

import html
import time

from exporter.collectors import REGISTRY
from exporter.core.model import EXHAUSTED, FAILING, Finding, Snapshot, Target, TargetKey

_HEADINGS = ("Account", "Region", "Membership", "Collaboration", "What")
_CLASSES = {EXHAUSTED: "failed", FAILING: "failed"}  # running low: amber, not red


def findings(snapshot: Snapshot, now: float | None = None) -> list[Finding]:
    """What every enabled collector finds in its fresh-or-not data, most urgent first."""
    now = time.time() if now is None else now
    found: list[Finding] = []
    for spec in REGISTRY:
        if spec.shown.findings is None:
            continue
        for key, state in snapshot.collectors.get(spec.name, {}).items():
            if state.data is not None:
                found += spec.shown.findings(key, state.data, now)
    return sorted(found, key=lambda f: (f.urgency, f.key, f.membership_id, f.what))


def attention_section(snapshot: Snapshot) -> str:
    """The HTML table, or a line saying there is nothing to act on."""
    found = findings(snapshot)
    if not found:
        return (
            '<p id="no-attention" class="up">Nothing to act on: no exhausted or low budget, '
            "no failed analysis (or those collectors are off).</p>"
        )
    names = _collaboration_names(snapshot)
    targets = {key: state.target for key, state in snapshot.states.items()}
    rows = "\n".join(
        _row(f, targets.get(f.key), names.get((f.key, f.membership_id), "")) for f in found
    )
    head = "".join(f"<th>{h}</th>" for h in _HEADINGS)
    return f'<table id="attention"><thead><tr>{head}</tr></thead><tbody>\n{rows}\n</tbody></table>'


def _collaboration_names(snapshot: Snapshot) -> dict[tuple[TargetKey, str], str]:
    names = {}
    for key, state in snapshot.states.items():
        for c in getattr(state.data, "collaborations", ()):
            if c.membership_id:
                names[(key, c.membership_id)] = c.name
    return names


def _row(finding: Finding, target: Target | None, collaboration: str) -> str:
    account, region = finding.key
    if target is not None and target.account_name:
        account = f"{account} ({target.account_name})"
    cells = [html.escape(text) for text in (account, region, finding.membership_id, collaboration)]
    cells.append(_shortened(finding.what, finding.resources))
    tds = "".join(f"<td>{cell}</td>" for cell in cells)
    css = _CLASSES.get(finding.urgency, "pending")
    return f'<tr class="{css}" data-urgency="{finding.urgency}">{tds}</tr>'


def _shortened(text: str, resources: tuple[str, ...]) -> str:
    """Escaped text, each ARN of ``resources`` as its name with the ARN as the title."""
    out = html.escape(text)
    for arn in resources:
        name = arn.rsplit("/", 1)[-1].rsplit(":", 1)[-1] or arn
        span = f'<span class="resource" title="{html.escape(arn)}">{html.escape(name)}</span>'
        out = out.replace(html.escape(arn), span)
    return out
