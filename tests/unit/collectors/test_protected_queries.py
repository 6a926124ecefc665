"""The protected_queries collector against the fake: counts, finished counters, calls per poll."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from exporter.app import App
from exporter.collectors.base import PollContext
from exporter.collectors.collaborations import build_poll_data
from exporter.collectors.protected_analyses import AnalysesData, parse_summary
from exporter.collectors.protected_analyses import poll as analyses_poll
from exporter.collectors.protected_queries import KIND
from exporter.collectors.status_counts import Item, Tally, tally
from exporter.config import ConfigError, parse_config
from tests.helpers import value

HOUR = 3600.0
ON = "collectors: {protected_queries: {enabled: true}}\n"
STATUSES = ("SUBMITTED", "STARTED", "CANCELLED", "CANCELLING", "FAILED", "SUCCESS", "TIMED_OUT")


def counts(exporter: App, where: dict[str, str]) -> dict[str, float | None]:
    return {s: value(exporter, "cleanrooms_protected_queries", **where, status=s) for s in STATUSES}


def finished(exporter: App, where: dict[str, str], status: str) -> float | None:
    name = "cleanrooms_protected_queries_finished_total"
    return value(exporter, name, **where, status=status)


# --- the counting rule, with a clock of our own ----------------------------------------

DAY = 86400.0


def build(found: list[Item], cutoff: float, old: Tally | None) -> Tally:
    """One membership's tally of a listing down to ``cutoff``, as a poll makes it."""
    return tally(KIND.rules, found, old, window_start=cutoff)


def listing(
    queries: dict[str, tuple[str, float]], now: float, lookback: float
) -> list[Item | None]:
    """What one poll lists: the queries created within lookback."""
    found = []
    for query_id, (status, created) in queries.items():
        if created >= now - lookback:
            found.append(parse_summary(summary(query_id, status, created)))
    return found


def summary(query_id: str, status: str, created: float) -> dict[str, object]:
    return {"id": query_id, "status": status, "createTime": datetime.fromtimestamp(created, UTC)}


def test_remembered_ids_stay_within_lookback_under_a_stream_of_queries() -> None:
    """Two days of polls every 5 minutes, a query submitted each time and done by the next."""
    start, lookback, step = 1_700_000_000.0, DAY, 300.0
    queries: dict[str, tuple[str, float]] = {}
    state: Tally | None = None
    sizes = []
    polls = int(2 * DAY / step)
    for poll in range(polls):
        now = start + step * poll
        for query_id, (status, created) in queries.items():
            if status == "STARTED":
                queries[query_id] = ("FAILED" if poll % 10 == 0 else "SUCCESS", created)
        queries[f"q{poll}"] = ("STARTED", now)
        found = [f for f in listing(queries, now, lookback) if f is not None]
        state = build(found, now - lookback, state)
        sizes.append(len(state.seen))
    assert state is not None
    # Every query but the last (still running) finished and was counted exactly once.
    assert state.once["SUCCESS"] + state.once["FAILED"] == polls - 1
    assert state.once["FAILED"] == (polls - 1) // 10  # those done at poll 10, 20, ...
    per_lookback = int(lookback / step)
    assert max(sizes) <= per_lookback + 1  # one lookback's worth, never more
    assert sizes[-1] == sizes[per_lookback + 5]  # flat after the first day


def parsed(summaries: list[dict[str, object]]) -> list[Item]:
    found = [parse_summary(s) for s in summaries]
    return [f for f in found if f is not None]


def test_a_wider_lookback_or_a_clock_stepping_back_counts_nothing_twice() -> None:
    now = 1_700_000_000.0
    old = [
        summary("a", "SUCCESS", now - 2 * HOUR),
        summary("b", "FAILED", now - 30 * HOUR),  # finished, counted, then forgotten
    ]
    first = build(parsed([old[1]]), now - 31 * HOUR, None)
    later = now + 2 * DAY
    narrow = build([], later - HOUR, first)
    assert narrow.seen == {}  # "b" left the 1h window: forgotten
    # Lookback widened to 4 days: "b" is listed again, but it lies before the window the
    # last poll covered, so it is remembered and not counted; "a" likewise.
    wide = build(parsed(old), later - 4 * DAY, narrow)
    assert dict(wide.once) == {"SUCCESS": 0, "FAILED": 0, "CANCELLED": 0, "TIMED_OUT": 0}
    assert set(wide.seen) == {"a", "b"}


def test_malformed_summaries_are_skipped_and_counted() -> None:
    assert parse_summary({"id": "q", "status": "SUCCESS", "createTime": "yesterday"}) is None
    assert parse_summary({"status": "SUCCESS", "createTime": datetime.now(UTC)}) is None
    assert parse_summary(["not", "a", "summary"]) is None
    good = parse_summary({"id": "q", "status": "NEW_STATUS", "createTime": datetime.now(UTC)})
    assert good is not None
    state = build([good], 0.0, None)
    assert state.counts["NEW_STATUS"] == 1  # a status AWS adds later is kept as received


def test_lookback_is_parsed_and_a_bad_value_names_its_path() -> None:
    parsed = parse_config("collectors: {protected_queries: {enabled: true, lookback: 6h}}\n", {})
    (schedule,) = [s for s in parsed.schedules() if s.name == "protected_queries"]
    assert schedule.option("lookback") == 6 * HOUR
    assert schedule.interval == 60  # the collector's own default, not poll_interval
    default = parse_config("collectors: {protected_queries: {enabled: true}}\n", {})
    assert [s.option("lookback") for s in default.schedules() if s.options] == [DAY]
    with pytest.raises(ConfigError) as caught:
        parse_config("collectors: {protected_queries: {lookback: soon}}\n", {})
    assert any(
        p.startswith("collectors.protected_queries.lookback: ") for p in caught.value.problems
    ), caught.value.problems


class Listing:
    """A client whose ListProtectedQueries answers one page: ``queries`` newest first."""

    def __init__(self) -> None:
        self.queries: dict[str, tuple[str, float]] = {}

    def call(self, operation: str, **params: object) -> dict[str, object]:
        assert operation == "ListProtectedQueries"
        ordered = sorted(self.queries.items(), key=lambda q: q[1][1], reverse=True)
        return {"protectedQueries": [summary(i, s, c) for i, (s, c) in ordered]}


def test_an_unchanged_poll_keeps_its_data_and_a_wider_lookback_counts_what_finished() -> None:
    collaboration = {
        "id": "c" * 36,
        "arn": "arn:aws:cleanrooms:us-east-1:111111111111:collaboration/" + "c" * 36,
        "name": "c",
        "creatorAccountId": "111111111111",
        "createTime": datetime.fromtimestamp(1_600_000_000, UTC),
        "updateTime": datetime.fromtimestamp(1_600_000_000, UTC),
        "memberStatus": "ACTIVE",
        "membershipId": "m" * 36,
    }
    collaborations = build_poll_data([collaboration], 1, None)
    client = Listing()
    now = 1_700_000_000.0
    client.queries = {"a": ("SUCCESS", now - 2 * HOUR)}

    def poll(at: float, previous: object, lookback: float) -> AnalysesData:
        options = {"lookback": lookback, "details": False}
        context = PollContext(client, collaborations, None, 10, at, previous, options)
        return analyses_poll(KIND, context)

    client.queries["long"] = ("STARTED", now - DAY + HOUR / 2)  # about to leave the window
    first = poll(now, None, DAY)
    second = poll(now + HOUR / 4, first, DAY)
    assert second == first  # only the cutoff moved: equal, so the poller keeps ``first``
    # Lookback widens to 2 days as the long query fails. The kept data's cutoff is older
    # than the last poll's; the query was listed by both polls: it is news, counted once.
    client.queries["long"] = ("FAILED", now - DAY + HOUR / 2)
    wide = poll(now + HOUR / 2, first, 2 * DAY)
    (membership,) = wide.memberships.values()
    assert membership.tally.once["FAILED"] == 1
    again = poll(now + HOUR, wide, 2 * DAY)
    (membership,) = again.memberships.values()
    assert membership.tally.once["FAILED"] == 1  # and never again
