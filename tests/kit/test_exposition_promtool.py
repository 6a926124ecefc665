"""``promtool check metrics`` on what the exporter exports: the whole demo exposition with
every collector on (plus the discovery and poll-worker series), and, property-based, any
label value AWS could send, which Prometheus' parsers must accept too."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from exporter.core.model import CollectorState, Snapshot, Target
from exporter.core.stats import ApiStats
from exporter.metrics.exposition import ExpositionRenderer
from exporter.metrics.scrape import ScrapeSettings, SnapshotMetrics
from tests.conftest import require_tool
from tests.unit.metrics.test_collector import build_poll_data  # wherever the collector keeps it


def promtool_complaints(text: str) -> str:
    """What ``promtool check metrics`` says about ``text``: empty when it passes."""
    result = subprocess.run(
        [require_tool("promtool"), "check", "metrics"],
        input=text.encode(),
        capture_output=True,
        check=False,
        timeout=60,
    )
    said = (result.stdout + result.stderr).decode().strip()
    if result.returncode != 0 and not said:
        said = f"promtool exited {result.returncode}"
    return said


def test_the_full_exposition_passes_promtool_without_a_complaint(full_exposition: str) -> None:
    assert "cleanrooms_protected_query_billed_crpu_" in full_exposition  # the cost counters
    assert "cleanrooms_ml_audience_models" in full_exposition  # an opt-in collector is on
    assert promtool_complaints(full_exposition) == ""


def test_promtool_complains_of_a_name_in_hours() -> None:
    # The check above can fail: the name the CRPU counters had is one promtool rejects.
    text = (
        "# HELP cleanrooms_protected_query_billed_crpu_hours_total Billed CRPU-hours.\n"
        "# TYPE cleanrooms_protected_query_billed_crpu_hours_total counter\n"
        "cleanrooms_protected_query_billed_crpu_hours_total 1.5\n"
    )
    assert 'use base unit "seconds" instead of "hours"' in promtool_complaints(text)


SPECIAL = ('"', "\\", "\n", "\r", "\t", "\x00", "\u2028", "\ufeff", "{", "}", "=", ",", "#", "$")
aws_strings = st.text(
    alphabet=st.characters(exclude_categories=()) | st.sampled_from(SPECIAL), max_size=300
)


required = aws_strings.filter(bool)


def expected_label(value: str) -> str:
    """The documented treatment: invalid UTF-8 replaced, capped at 256 characters."""
    safe = value.encode("utf-8", "replace").decode("utf-8")
    return safe if len(safe) <= 256 else safe[:255] + "\u2026"


def info_labels(families: Iterable[Metric]) -> set[tuple[str, str]]:
    return {
        (s.labels["collaboration_id"], s.labels["collaboration_name"])
        for f in families
        for s in f.samples
        if s.name == "cleanrooms_collaboration_info"
    }


def render(collaborations: list[dict[str, Any]], account_name: str) -> tuple[str, str]:
    target = Target("111111111111", "us-east-1", account_name)
    data = build_poll_data(collaborations, pages=1, member_status=None)
    state = CollectorState(
        target=target,
        data=data,
        up=True,
        polled=True,
        polls=1,
        last_success=1.8e9,
        last_success_monotonic=time.monotonic(),
    )
    snapshot = Snapshot(MappingProxyType({target.key: state}))
    collector = SnapshotMetrics(
        lambda: snapshot, ApiStats(), lambda: ScrapeSettings(1e12, True, ())
    )
    CollectorRegistry().register(collector)
    renderer = ExpositionRenderer(collector)
    text = renderer.render("")[0].decode("utf-8")
    openmetrics = renderer.render("application/openmetrics-text; version=1.0.0")[0].decode()
    return text, openmetrics


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "id": required,
                "name": required,
                "creatorAccountId": required,
                "memberStatus": required,
                "creatorDisplayName": aws_strings,
                "membershipId": aws_strings,
            }
        ),
        min_size=1,
        max_size=4,
        unique_by=lambda c: c["id"],
    ),
    aws_strings,
)
def test_any_aws_string_renders_a_valid_exposition(
    collaborations: list[dict[str, Any]], account_name: str
) -> None:
    created = datetime.fromtimestamp(1.7e9, UTC)
    for collaboration in collaborations:
        collaboration |= {"createTime": created, "updateTime": created}
    text, openmetrics = render(collaborations, account_name)
    sent = {(expected_label(c["id"]), expected_label(c["name"])) for c in collaborations}
    assert info_labels(text_string_to_metric_families(text)) == sent
    assert info_labels(openmetrics_families(openmetrics)) == sent
    assert promtool_complaints(text) == ""
