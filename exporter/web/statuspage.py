"""The HTML status page at ``/``: a triage view, what a person opens to act.

A summary line counts what needs action; then failing targets and collectors, pending
invitations (untrusted first), every collector's findings grouped by kind and collaboration,
cost, the reload state and every target. Long lists show their worst rows and fold the
rest under "and N more" (``<details>``): no JavaScript. The HTML comes from the Jinja2
templates in ``templates/``, which escape every value.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from exporter import __version__
from exporter.collectors.collaborations import Collaboration
from exporter.core.model import ACTION, AT_LIMIT, INFO, CollectorState, Snapshot, Target
from exporter.web.attention import LISTED, Group, groups
from exporter.web.spend import spend_rows

SHOWN = 5  # rows of a table shown before "and N more"

# Loaded once; autoescape makes every value from AWS or the config safe in HTML.
TEMPLATES = Environment(
    loader=PackageLoader("exporter.web", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)


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
class Invitation:
    """One pending invitation: the collaboration, the invited target and what trust says."""

    target: Target
    collaboration: Collaboration
    trust: str  # "trusted", "untrusted" or "not checked"
    age: str  # "3d 4h", with "(as of the last good poll)" while the target fails


@dataclass(frozen=True, slots=True)
class Count:
    """One item of the summary line: its text, its colour, and the number it states."""

    text: str
    severity: str  # ACTION (red), AT_LIMIT (amber), INFO (neutral) or "ok" (green)
    count: int
    what: str  # what is counted, for the data-what attribute tests and scripts read


def render_status_page(
    snapshot: Snapshot, context: PageContext | None = None, now: datetime | None = None
) -> str:
    """The whole page for one snapshot."""
    context = context or PageContext()
    moment = now or datetime.now(UTC)
    states = sorted(snapshot.states.values(), key=_target_order)
    invitations = pending(states, context.trusted_creators, moment.timestamp())
    failing = _failing(snapshot)
    found = groups(snapshot, moment.timestamp())
    return TEMPLATES.get_template("page.html").render(
        version=__version__,
        now=_stamp(moment.timestamp()),
        summary=summary(snapshot, invitations, found, bool(context.trusted_creators)),
        shown=SHOWN,
        listed=LISTED,
        failing=failing,
        invitations=invitations,
        trust_checked=bool(context.trusted_creators),
        groups=found,
        spend=spend_rows(snapshot),
        reload=context.reload,
        targets=states,
        when=_when,
        stamp=_stamp,
        error_text=_error_text,
        collaborations=_collaborations,
        plural=plural,
        where=where,
    )


def _target_order(state: CollectorState[Any]) -> tuple[Any, ...]:
    """Failing targets first, then those not polled yet, then the rest; by target."""
    return (state.up or not state.polled, state.polled, state.target.key)


def pending(
    states: Iterable[CollectorState[Any]], trusted: tuple[str, ...], now: float
) -> list[Invitation]:
    """Every INVITED collaboration: untrusted first, then oldest first."""
    found = []
    for state in states:
        for c in getattr(state.data, "collaborations", ()):
            if c.member_status != "INVITED":
                continue
            trust = "not checked"
            if trusted:
                trust = "trusted" if c.creator_account_id in trusted else "untrusted"
            age = _age(now - c.create_time)
            if not state.up:
                age += " (as of the last good poll)"
            found.append(Invitation(state.target, c, trust, age))
    return sorted(
        found,
        key=lambda i: (i.trust != "untrusted", i.collaboration.create_time, i.target.key),
    )


def _failing(snapshot: Snapshot) -> list[tuple[str, CollectorState[Any]]]:
    """Every collector's failing targets: the primary's first, then by collector."""
    return [
        (name, state)
        for name, states in snapshot.by_collector().items()
        for state in sorted(states.values(), key=lambda s: s.target.key)
        if state.polled and not state.up
    ]


def summary(
    snapshot: Snapshot, invitations: list[Invitation], found: list[Group], trust_checked: bool
) -> list[Count]:
    """The summary line: what needs action, counted; then what is at a limit or informs."""
    states = list(snapshot.states.values())
    up = sum(1 for s in states if s.up)
    failing = sum(1 for s in states if s.polled and not s.up)
    waiting = sum(1 for s in states if not s.polled)
    counts = [
        Count(plural(len(states), "target"), INFO, len(states), "targets"),
        Count(f"{up} up", "ok" if up else INFO, up, "up"),
        Count(f"{failing} failing", ACTION if failing else INFO, failing, "failing-targets"),
    ]
    if waiting:
        counts.append(Count(f"{waiting} not polled yet", INFO, waiting, "not-polled"))
    counts.append(_collectors(snapshot))
    counts.append(
        Count(plural(len(invitations), "pending invitation"), INFO, len(invitations), "pending")
    )
    if trust_checked:
        untrusted = sum(1 for i in invitations if i.trust == "untrusted")
        counts.append(
            Count(f"{untrusted} untrusted", ACTION if untrusted else INFO, untrusted, "untrusted")
        )
    counts += [
        Count(f"{g.kind}: {where(g)}", ACTION, g.affected, g.kind)
        for g in found
        if g.severity == ACTION
    ]
    if not any(c.severity == ACTION for c in counts):
        counts.append(Count("nothing needs action", "ok", 0, "nothing"))
    for severity, words in ((AT_LIMIT, "at a limit"), (INFO, "for information")):
        n = sum(g.size for g in found if g.severity == severity)
        if n:
            counts.append(Count(f"{plural(n, 'finding')} {words}", severity, n, severity))
    return counts


def _collectors(snapshot: Snapshot) -> Count:
    """Failing polls of the other collectors: a target can be up while its members fail."""
    pairs = [
        (name, key)
        for name, states in snapshot.collectors.items()
        for key, state in states.items()
        if state.polled and not state.up
    ]
    names = {name for name, _ in pairs}
    text = f"{plural(len(names), 'collector')} failing"
    if len(pairs) != len(names):
        text += f" ({len(pairs)} collector-target pairs)"
    return Count(text, ACTION if pairs else INFO, len(pairs), "failing-collectors")


def where(group: Group) -> str:
    """``18 memberships``, ``1 target``, or both: where a kind of finding is."""
    parts = []
    if group.memberships:
        parts.append(plural(group.memberships, "membership"))
    if group.targets:
        parts.append(plural(group.targets, "target"))
    return ", ".join(parts)


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _error_text(state: CollectorState[Any]) -> str:
    error = state.last_error
    return f"{error.operation}: {error.code}: {error.message}" if error else ""


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


def _collaborations(state: CollectorState[Any]) -> str:
    counts = getattr(state.data, "counts", None)
    if not counts:
        return ""
    detail = ", ".join(f"{status} {n}" for status, n in counts.items())
    return f"{sum(counts.values())} ({detail})"
