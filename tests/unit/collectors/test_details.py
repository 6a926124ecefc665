"""Analysis details in isolation: the Get queue, its bounds, and families both collectors share."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.parser import text_string_to_metric_families

from exporter.collectors import details
from exporter.collectors.details import Details, Waiting
from exporter.collectors.protected_analyses import AnalysesData, MembershipAnalyses
from exporter.collectors.status_counts import Tally
from exporter.config.collectors import CollectorSchedule
from exporter.core.errors import ApiError
from exporter.core.histogram import Histogram
from exporter.core.model import CollectorState, Snapshot
from exporter.metrics.exposition import ExpositionRenderer
from exporter.metrics.scrape import ScrapeSettings, SnapshotMetrics
from tests.unit.metrics.test_collector import NOW, snapshot, stats

GET = details.Get("GetProtectedQuery", "protectedQueryIdentifier", "protectedQuery")


class Client:
    """Answers Gets from ``answers`` (an exception is raised), recording each call."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    def call(self, operation: str, **params: Any) -> Any:
        assert operation == "GetProtectedQuery"
        assert params["membershipIdentifier"] == "m1"
        analysis_id = params["protectedQueryIdentifier"]
        self.calls.append(analysis_id)
        answer = self.answers[analysis_id]
        if isinstance(answer, Exception):
            raise answer
        return {"protectedQuery": answer}


def done(status: str, units: float, millis: int, code: str | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "status": status,
        "statistics": {
            "totalDurationInMillis": millis,
            "billedResourceUtilization": {"units": units},
        },
    }
    if code:
        answer["error"] = {"code": code, "message": "m"}
    return answer


def fetch(
    client: Client, waiting: Details, per_poll: int = 50
) -> tuple[Details, dict[str, Histogram]]:
    durations: dict[str, Histogram] = {}
    got = details.fetch(client, GET, "m1", waiting, per_poll=per_poll, durations=durations)
    return got, durations


def test_at_most_per_poll_gets_oldest_first_and_what_they_found() -> None:
    client = Client({f"q{i}": done("SUCCESS", 0.5, 1000 * (i + 1)) for i in range(5)})
    waiting = details.queue(Details(), [(f"q{i}", 0.0) for i in range(5)])
    got, durations = fetch(client, waiting, per_poll=3)
    assert client.calls == ["q0", "q1", "q2"]
    assert [w.id for w in got.backlog] == ["q3", "q4"]
    assert got.billed == {"SUCCESS": 1.5}
    assert durations["SUCCESS"].count == 3
    assert durations["SUCCESS"].total == 6.0


def test_a_failed_get_is_tried_three_times_then_dropped_and_denial_stops_the_poll() -> None:
    denied = ApiError("GetProtectedQuery", "AccessDeniedException", "no")
    client = Client({"q0": denied, "q1": done("SUCCESS", 1.0, 10)})
    waiting = details.queue(Details(), [("q0", 0.0), ("q1", 0.0)])
    for attempt in (1, 2):
        waiting, _ = fetch(client, waiting)
        assert waiting.backlog[0] == Waiting("q0", attempt, 0.0)  # q1 waits behind it
    waiting, _ = fetch(client, waiting)
    assert client.calls == ["q0", "q0", "q0"]
    assert waiting.dropped == {"access_denied": 1}
    assert [w.id for w in waiting.backlog] == ["q1"]


def test_a_gone_analysis_does_not_stop_the_others() -> None:
    gone = ApiError("GetProtectedQuery", "ResourceNotFoundException", "gone")
    client = Client({"q0": gone, "q1": done("FAILED", 0.1, 10, "Oops")})
    got, _ = fetch(client, details.queue(Details(), [("q0", 0.0), ("q1", 0.0)]))
    assert client.calls == ["q0", "q1"]
    assert got.errors == {("Oops", "unknown"): 1}
    assert got.backlog == (Waiting("q0", 1, 0.0),)


def test_error_codes_beyond_twenty_are_other() -> None:
    client = Client({f"q{i}": done("FAILED", 0.0, 10, f"C{i}") for i in range(25)})
    got, _ = fetch(client, details.queue(Details(), [(f"q{i}", 0.0) for i in range(25)]))
    assert len(got.errors) == 21
    assert got.errors[("other", "unknown")] == 5


def test_each_code_is_counted_with_whether_aws_says_it_is_retryable() -> None:
    answers = {}
    for name, retry in (("q0", {"retryable": True}), ("q1", {"retryable": False}), ("q2", {})):
        answers[name] = done("FAILED", 0.0, 10, "Busy")
        answers[name]["error"]["retry"] = retry
    answers["q3"] = done("FAILED", 0.0, 10, "Busy")
    answers["q3"]["error"]["retry"] = {"retryable": True}
    answers["q4"] = done("FAILED", 0.0, 10, "Odd")
    answers["q4"]["error"]["retry"] = {"retryable": "yes"}  # not a boolean: unknown
    client = Client(answers)
    got, _ = fetch(client, details.queue(Details(), [(f"q{i}", 0.0) for i in range(5)]))
    assert got.errors == {
        ("Busy", "true"): 2,
        ("Busy", "false"): 1,
        ("Busy", "unknown"): 1,
        ("Odd", "unknown"): 1,
    }


def test_a_get_botocore_refused_to_send_is_dropped_at_once_and_the_next_goes_on() -> None:
    refused = ApiError("GetProtectedQuery", "ParamValidationError", "too short")
    client = Client({"q0": refused, "q1": done("SUCCESS", 1.0, 10)})
    got, _ = fetch(client, details.queue(Details(), [("q0", 0.0), ("q1", 0.0)]))
    assert client.calls == ["q0", "q1"]
    assert got.dropped == {"invalid_request": 1}
    assert got.backlog == ()
    assert got.billed == {"SUCCESS": 1.0}


def test_an_answer_without_an_analysis_is_dropped_as_invalid() -> None:
    client = Client({"q0": {"no": "status"}})
    waiting = details.queue(Details(), [("q0", 0.0)])
    for _ in range(3):
        waiting, _ = fetch(client, waiting)
    assert waiting.dropped == {"invalid_response": 1}


def test_a_full_backlog_drops_its_oldest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(details, "MAX_BACKLOG", 3)
    got = details.queue(
        details.queue(Details(), [("a", 0.0), ("b", 0.0)]), [(i, 0.0) for i in "cde"]
    )
    assert [w.id for w in got.backlog] == ["c", "d", "e"]
    assert got.dropped == {"backlog_full": 2}


def test_malformed_statistics_are_not_numbers() -> None:
    parsed = details.parse({"status": "SUCCESS", "statistics": {"totalDurationInMillis": "x"}})
    assert parsed == details.Found("SUCCESS", None, None, None)
    assert details.parse({"statistics": {}}) is None


def analyses(backlog: int, dropped: dict[str, int]) -> AnalysesData:
    found = Details(tuple(Waiting(f"x{i}") for i in range(backlog)), {"SUCCESS": 2.5}, {}, dropped)
    membership = MembershipAnalyses("m1", Tally({}, None, 0, {}, {}, 0.0), details=found)
    histogram = Histogram.empty(details.DURATION_BUCKETS).add(45.0)
    return AnalysesData(
        MappingProxyType({"c1": membership}), 0, MappingProxyType({"SUCCESS": histogram})
    )


@pytest.mark.parametrize("accept", ["text/plain", "application/openmetrics-text; version=1.0.0"])
def test_both_collectors_share_one_backlog_family_in_the_renderer_and_the_library(
    accept: str,
) -> None:
    base = snapshot()
    key = ("111111111111", "us-east-1")
    target = base.states[key].target
    healthy = {"polled": True, "up": True, "last_success_monotonic": NOW - 1}
    states = {
        "protected_queries": {key: CollectorState(target, analyses(2, {}), **healthy)},
        "protected_jobs": {key: CollectorState(target, analyses(1, {"not_found": 1}), **healthy)},
    }
    view = Snapshot(base.states, MappingProxyType(states))
    settings = ScrapeSettings(
        900.0,
        True,
        (),
        (
            CollectorSchedule("protected_queries", 60, 900),
            CollectorSchedule("protected_jobs", 60, 900),
        ),
    )
    collector = SnapshotMetrics(lambda: view, stats(), lambda: settings, lambda: NOW, lambda: NOW)
    registry = CollectorRegistry()
    registry.register(collector)
    body, _ = ExpositionRenderer(collector).render(accept)
    assert body == bytes(choose_encoder(accept)[0](registry))
    text = body.decode()
    assert text.count("# TYPE cleanrooms_analysis_details_backlog gauge") == 1
    families = {f.name: f for f in text_string_to_metric_families(text.replace("# EOF\n", ""))}
    backlog = {
        s.labels["collector"]: s.value
        for s in families["cleanrooms_analysis_details_backlog"].samples
    }
    assert backlog == {"protected_queries": 2, "protected_jobs": 1}
    where = {"account_id": "111111111111", "region": "us-east-1", "status": "SUCCESS"}
    assert registry.get_sample_value("cleanrooms_protected_job_duration_seconds_count", where) == 1
    assert registry.get_sample_value("cleanrooms_protected_query_duration_seconds_sum", where) == 45
    assert replace(settings) == settings


def test_the_recent_cost_keeps_only_what_was_created_within_lookback() -> None:
    client = Client({"old": done("SUCCESS", 1.0, 10), "new": done("SUCCESS", 2.0, 10)})
    got, _ = fetch(client, details.queue(Details(), [("old", 100.0), ("new", 200.0)]))
    assert got.recent == ((100.0, 1.0), (200.0, 2.0))
    assert details.queue(got, [], cutoff=150.0).recent == ((200.0, 2.0),)
