"""What a Prometheus pays for: series per collector, allow and deny lists, scrape-time name[].

Each control is checked against the library's own rendering of the same families (the
cached renderer must give the same bytes), and what it drops must really be absent.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace

import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporter.collectors import BY_NAME
from exporter.core.series import OutputSettings
from exporter.metrics import cache
from tests.unit.metrics.world import COLLECTORS, SETTINGS, World

TEXT = "text/plain"
OPENMETRICS = "application/openmetrics-text; version=1.0.0"


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    return [
        (s.name, s.labels, s.value)
        for family in text_string_to_metric_families(text.replace("# EOF\n", ""))
        for s in family.samples
    ]


def family_names(text: str) -> set[str]:
    return set(re.findall(r"^# TYPE (\S+) ", text, re.M))


def counted_by_collector(text: str) -> Counter[str]:
    """Each collector's sample lines, told apart by its declared families (and ages).

    A family two collectors share (the details backlog) is split by its collector label.
    """
    owners: dict[str, list[str]] = {}
    for name in ("collaborations", *COLLECTORS):
        spec = BY_NAME[name]
        declared = [n for f in spec.rendering.families for n in {f.name, f.exposed}]
        for family in [*declared, *(age.name for age in spec.rendering.ages)]:
            owners.setdefault(family, []).append(name)
    found: Counter[str] = Counter()
    for family in text_string_to_metric_families(text.replace("# EOF\n", "")):
        owner = owners.get(family.name)
        for sample in family.samples:
            if owner is not None:
                found[owner[0] if len(owner) == 1 else sample.labels["collector"]] += 1
    return found


def series_gauge(text: str) -> dict[str, float]:
    return {
        labels["collector"]: value
        for name, labels, value in samples(text)
        if name == "cleanrooms_exporter_series"
    }


@pytest.mark.parametrize("accept", [TEXT, OPENMETRICS])
def test_the_series_of_each_collector_are_counted_from_the_exposition(accept: str) -> None:
    world = World()
    text = world.same(accept)
    counted = counted_by_collector(text)
    assert series_gauge(text) == {name: counted[name] for name in ("collaborations", *COLLECTORS)}
    assert counted["protected_jobs"] > 0
    assert counted["intermediate_tables"] > counted["members"]
    world.settings = replace(SETTINGS, deny=("cleanrooms_intermediate_table_.*",))
    text = world.same(accept)
    assert (
        series_gauge(text)["intermediate_tables"]
        == counted_by_collector(text)["intermediate_tables"]
    )
    assert series_gauge(text)["intermediate_tables"] < counted["intermediate_tables"]


def test_the_deny_list_wins_over_the_allow_list_and_matches_whole_names() -> None:
    world = World()
    everything = family_names(world.same())
    world.settings = replace(
        SETTINGS,
        allow=("cleanrooms_collaborations", "cleanrooms_target_.*", "cleanrooms_protected_.*"),
        deny=("cleanrooms_target_stale", "cleanrooms_protected_queries_finished_total"),
    )
    text = world.same()
    kept = family_names(text)
    assert "cleanrooms_collaborations" in kept
    assert "cleanrooms_target_up" in kept
    assert "cleanrooms_target_stale" not in kept  # allowed, and denied: deny wins
    # A counter is matched with its _total, whatever the format writes in its TYPE line.
    assert "cleanrooms_protected_queries_finished_total" not in kept
    assert "cleanrooms_protected_queries" in kept
    # Whole names only: cleanrooms_collaborations does not allow cleanrooms_collaboration_info.
    assert "cleanrooms_collaboration_info" not in kept
    # Every family is subject to the lists, the exporter's own included.
    assert "cleanrooms_exporter_build_info" not in kept
    assert "cleanrooms_exporter_series" not in kept
    assert kept < everything
    for name, _, _ in samples(text):
        assert name.startswith(("cleanrooms_collaborations", "cleanrooms_target_", "cleanrooms_p"))
    world.same(OPENMETRICS)


def test_denied_collector_families_are_never_built(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World(replace(SETTINGS, deny=("cleanrooms_intermediate_table.*",)))
    built: list[str] = []
    reformat = cache.reformat

    def counting(encoder, metrics, shape):  # type: ignore[no-untyped-def]
        built.extend(m.name for m in metrics)
        return reformat(encoder, metrics, shape)

    monkeypatch.setattr(cache, "reformat", counting)
    world.same()
    assert built
    assert not [name for name in built if name.startswith("cleanrooms_intermediate_table")]


NAME_SETS = [
    {"cleanrooms_collaborations"},
    {"cleanrooms_protected_queries_finished_total", "cleanrooms_membership_info"},
    {"cleanrooms_protected_query_duration_seconds_bucket"},  # a histogram's buckets alone
    {
        "cleanrooms_protected_query_duration_seconds_bucket",
        "cleanrooms_protected_query_duration_seconds_count",
        "cleanrooms_protected_query_duration_seconds_sum",
    },
    {"cleanrooms_analysis_details_backlog", "cleanrooms_target_up", "cleanrooms_exporter_series"},
    {"cleanrooms_exporter_build_info", "cleanrooms_ml_audience_model_age_seconds"},
    {"cleanrooms_api_request_duration_seconds_count"},
]
# Names no sample has: a counter without _total, a family with no sample, an unknown name.
NOTHING = [
    {"cleanrooms_protected_queries_finished"},
    {"cleanrooms_untrusted_pending_invitations"},
    {"cleanrooms_no_such_family"},
]


@pytest.mark.parametrize("accept", [TEXT, OPENMETRICS])
@pytest.mark.parametrize("names", NAME_SETS + NOTHING, ids=lambda n: ",".join(sorted(n))[:60])
def test_name_filter_keeps_exactly_what_the_library_keeps(accept: str, names: set[str]) -> None:
    world = World()
    everything = samples(world.same(accept))  # the cache is warm
    text = world.same(accept, names)
    found = samples(text)
    assert found == [s for s in everything if s[0] in names]  # the rest: really absent
    if names in NOTHING:
        assert text in ("", "# EOF\n")  # not even a header
    else:
        assert found


def test_name_filter_reuses_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World()
    whole = world.same()
    built: list[int] = []
    reformat = cache.reformat

    def counting(encoder, metrics, shape):  # type: ignore[no-untyped-def]
        built.append(len(metrics))
        return reformat(encoder, metrics, shape)

    monkeypatch.setattr(cache, "reformat", counting)
    part = world.same(TEXT, {"cleanrooms_protected_queries", "cleanrooms_target_up"})
    assert built == []  # nothing rendered again: the blocks of the full rendering were kept
    wanted = [line for line in whole.splitlines(True) if line.startswith(("# HELP ", "# TYPE "))]
    kept = [
        line
        for line in whole.splitlines(True)
        if line.startswith(("cleanrooms_protected_queries{", "cleanrooms_target_up{"))
    ]
    assert [line for line in part.splitlines(True) if not line.startswith("#")] == kept
    assert all(line in wanted for line in part.splitlines(True) if line.startswith("#"))


def test_output_settings_match_patterns_once_and_wholly() -> None:
    settings = OutputSettings(allow=("cleanrooms_a.*", "x|y"), deny=("cleanrooms_ab",))
    assert settings.exports("cleanrooms_a")
    assert not settings.exports("cleanrooms_ab")
    assert settings.exports("x")
    assert settings.exports("y")
    assert not settings.exports("xy")  # the alternation is one pattern, matched whole
    assert not settings.exports("other")
    assert OutputSettings().exports("anything")
