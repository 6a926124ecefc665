"""The HTML status page at ``/``: what a person opens to act.

Pending invitations oldest first, failing targets with their last error, the
reload state, then every target. Server-rendered, no JavaScript; every value
from AWS or the config is escaped.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from exporter import __version__
from exporter.collectors.collaborations import Collaboration, PollData
from exporter.core.model import CollectorState, Snapshot, Target
from exporter.web.attention import attention_section
from exporter.web.spend import spend_section

PrimaryState = CollectorState[PollData]  # the primary collector's state of one target


@dataclass(frozen=True, slots=True)
class ReloadState:
    """The configuration's load history, as the page shows it."""

    config_file: str | None  # None: nothing to reload (the demo, or no --config.file)
    successful: bool  # the last load (start-up or reload) succeeded
    last_success: float  # wall-clock time of the last good load
    last_attempt: float | None = None  # wall-clock time of the last reload, if any
    last_message: str = ""  # what the last reload answered


@dataclass(frozen=True, slots=True)
class PageContext:
    """What the page needs besides the snapshot."""

    trusted_creators: tuple[str, ...] = ()  # empty: trust is not checked
    reload: ReloadState | None = None


class ReloadRecorder:
    """Wraps the reload function to remember the last attempt's answer for the page."""

    def __init__(
        self, reload: Callable[[], tuple[bool, str]], clock: Callable[[], float] = time.time
    ) -> None:
        self._reload = reload
        self._clock = clock
        self._lock = threading.Lock()
        self.last: tuple[float, str] | None = None  # (when, message)

    def __call__(self) -> tuple[bool, str]:
        ok, message = self._reload()
        with self._lock:
            self.last = (self._clock(), message)
        return ok, message


@dataclass(frozen=True, slots=True)
class _Invitation:
    target: Target
    collaboration: Collaboration
    target_up: bool


_STYLE = """
body { font-family: sans-serif; margin: 1.5em 2em; max-width: 1240px; color: #1f2328; }
h1 { margin-bottom: 0.2em; } h2 { margin-top: 1.6em; font-size: 1.2em; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.message { overflow-wrap: anywhere; }
.up, .yes, .ok { color: #1a7f37; } .down, .no, .failed { color: #cf222e; }
.pending, .unchecked { color: #9a6700; }
.id, .meta { color: #656d76; font-size: 0.9em; }
.summary span { margin-right: 1.5em; }
"""

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Clean Rooms exporter</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{style}</style></head><body>
<h1>Clean Rooms exporter</h1>
<p class="meta">Version {version} &middot; <a href="/metrics">Metrics</a> &middot;
<a href="/-/ready">Ready</a> &middot; page rendered {now}</p>
<p class="summary" id="summary">{summary}</p>
<h2>Pending invitations, oldest first</h2>
{invitations}
<h2>Failing targets</h2>
{failing}
<h2>Memberships to act on</h2>
{attention}
<h2>Cost and failures</h2>
{spend}
<h2>Configuration</h2>
{reload}
<h2>All targets</h2>
<table id="targets">
<thead><tr><th>Account</th><th>Region</th><th>Up</th><th>Last success</th>
<th>Last error</th><th>Collaborations</th></tr></thead>
<tbody>
{rows}
</tbody></table></body></html>
"""


def render_status_page(
    snapshot: Snapshot, context: PageContext | None = None, now: datetime | None = None
) -> str:
    """The whole page for one snapshot."""
    context = context or PageContext()
    moment = now or datetime.now(UTC)
    states = sorted(snapshot.states.values(), key=lambda s: s.target.key)
    invitations = _pending(states)
    return _PAGE.format(
        style=_STYLE,
        version=html.escape(__version__),
        now=_stamp(moment.timestamp()),
        summary=_summary(states, invitations),
        invitations=_invitations_table(invitations, context.trusted_creators, moment),
        failing=_failing_table(snapshot),
        attention=attention_section(snapshot),
        spend=spend_section(snapshot),
        reload=_reload_section(context.reload),
        rows="\n".join(_row(state) for state in states),
    )


def _pending(states: Iterable[PrimaryState]) -> list[_Invitation]:
    found = [
        _Invitation(state.target, c, state.up)
        for state in states
        if state.data is not None
        for c in state.data.collaborations
        if c.member_status == "INVITED"
    ]
    return sorted(found, key=lambda i: (i.collaboration.create_time, i.target.key))


def _summary(states: list[PrimaryState], invitations: list[_Invitation]) -> str:
    up = sum(1 for s in states if s.up)
    failing = sum(1 for s in states if s.polled and not s.up)
    waiting = sum(1 for s in states if not s.polled)
    parts = [
        f"{len(states)} targets",
        f'<span class="up">{up} up</span>',
        f'<span class="{"down" if failing else "up"}">{failing} failing</span>',
        f"{waiting} not polled yet",
        f"{len(invitations)} pending invitations",
    ]
    return "".join(f"<span>{part}</span>" for part in parts)


def _invitations_table(
    invitations: list[_Invitation], trusted: tuple[str, ...], now: datetime
) -> str:
    if not invitations:
        return '<p id="no-invitations">No pending invitations.</p>'
    head = (
        "<tr><th>Age</th><th>Collaboration</th><th>Creator account</th>"
        "<th>Creator display name</th><th>Trusted</th><th>Invited account</th><th>Region</th></tr>"
    )
    rows = "\n".join(_invitation_row(i, trusted, now) for i in invitations)
    note = "" if trusted else '<p class="meta">No trusted_creator_accounts configured.</p>'
    return f'<table id="invitations"><thead>{head}</thead><tbody>\n{rows}\n</tbody></table>{note}'


def _invitation_row(invitation: _Invitation, trusted: tuple[str, ...], now: datetime) -> str:
    c, target = invitation.collaboration, invitation.target
    if not trusted:
        trust_class, trust_text = "unchecked", "not checked"
    elif c.creator_account_id in trusted:
        trust_class, trust_text = "yes", "trusted"
    else:
        trust_class, trust_text = "no", "untrusted"
    age = _age(now.timestamp() - c.create_time)
    if not invitation.target_up:
        age += " (as of the last good poll)"
    cells = [
        f'<td class="age" title="created {_stamp(c.create_time)}">{html.escape(age)}</td>',
        f'<td class="collaboration">{_esc(c.name)}<br><span class="id">{_esc(c.id)}</span></td>',
        f'<td class="creator-account">{_esc(c.creator_account_id)}</td>',
        f'<td class="creator-name">{_esc(c.creator_display_name)}</td>',
        f'<td class="{trust_class}">{trust_text}</td>',
        f'<td class="account">{_esc(_account(target))}</td>',
        f'<td class="region">{_esc(target.region)}</td>',
    ]
    return (
        f'<tr data-collaboration-id="{_esc(c.id)}" data-account-id="{_esc(target.account_id)}" '
        f'data-region="{_esc(target.region)}" data-created="{c.create_time:.3f}">'
        f"{''.join(cells)}</tr>"
    )


def _failing_table(snapshot: Snapshot) -> str:
    """Every collector's failing targets: the primary's first, then by collector."""
    failing = [
        (name, state)
        for name, states in snapshot.by_collector().items()
        for state in sorted(states.values(), key=lambda s: s.target.key)
        if state.polled and not state.up
    ]
    if not failing:
        return '<p id="no-failing" class="up">Every polled target is up.</p>'
    head = (
        "<tr><th>Account</th><th>Region</th><th>Collector</th><th>Failures in a row</th>"
        "<th>Last success</th><th>Operation</th><th>Error code</th><th>Message</th></tr>"
    )
    rows = "\n".join(_failing_row(name, s) for name, s in failing)
    return f'<table id="failing"><thead>{head}</thead><tbody>\n{rows}\n</tbody></table>'


def _failing_row(collector: str, state: CollectorState[Any]) -> str:
    target, error = state.target, state.last_error
    cells = [
        ("account", _account(target)),
        ("region", target.region),
        ("collector", collector),
        ("failures", str(state.consecutive_failures)),
        ("last-success", _when(state.last_success)),
        ("operation", error.operation if error else ""),
        ("down", error.code if error else ""),
        ("message", error.message if error else ""),
    ]
    tds = "".join(f'<td class="{cls}">{_esc(text)}</td>' for cls, text in cells)
    return (
        f'<tr data-account-id="{_esc(target.account_id)}" data-region="{_esc(target.region)}" '
        f'data-collector="{_esc(collector)}">{tds}</tr>'
    )


def _lines(text: str) -> str:
    """Escaped text with its line breaks kept: each problem of a reload on a line."""
    return "<br>".join(_esc(line) for line in text.splitlines())


def _reload_section(state: ReloadState | None) -> str:
    if state is None or state.config_file is None:
        return '<p id="reload">Built-in configuration (demo or no --config.file): no reload.</p>'
    status = (
        '<span class="ok">loaded</span>'
        if state.successful
        else '<span class="failed">last reload failed; the previous configuration runs</span>'
    )
    lines = [
        f"File {_esc(state.config_file)}: {status}.",
        f"Last successful load {_stamp(state.last_success)}.",
    ]
    if state.last_attempt is not None:
        lines.append(
            f"Last reload {_stamp(state.last_attempt)}: "
            f'<span class="message">{_lines(state.last_message)}</span>'
        )
    lines.append('<span class="meta">Reload with SIGHUP or POST /-/reload.</span>')
    return '<p id="reload">' + "<br>".join(lines) + "</p>"


def _row(state: PrimaryState) -> str:
    target = state.target
    if not state.polled:
        up_class, up_text = "pending", "pending"
    else:
        up_class, up_text = ("up", "up") if state.up else ("down", "down")
    error = state.last_error
    error_text = f"{error.operation}: {error.code}: {error.message}" if error else ""
    cells = [
        ("account", _account(target)),
        ("region", target.region),
        (up_class, up_text),
        ("last-success", _when(state.last_success)),
        ("last-error message", error_text),
        ("collaborations", _collaborations(state)),
    ]
    tds = "".join(f'<td class="{cls}">{_esc(text)}</td>' for cls, text in cells)
    return (
        f'<tr data-account-id="{_esc(target.account_id)}" '
        f'data-region="{_esc(target.region)}">{tds}</tr>'
    )


def _account(target: Target) -> str:
    return target.account_id + (f" ({target.account_name})" if target.account_name else "")


def _esc(text: str) -> str:
    return html.escape(text)


def _stamp(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _when(timestamp: float | None) -> str:
    return "never" if timestamp is None else _stamp(timestamp)


def _age(seconds: float) -> str:
    """``3d 4h``, ``5h 12m``, ``12m``; never negative (a clock behind the creator's)."""
    minutes = max(0, int(seconds // 60))
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {mins}m"
    return f"{mins}m"


def _collaborations(state: PrimaryState) -> str:
    if state.data is None:
        return ""
    counts = state.data.counts
    detail = ", ".join(f"{status} {n}" for status, n in counts.items())
    return f"{sum(counts.values())} ({detail})"
