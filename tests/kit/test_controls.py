"""The dashboards and alerts get the series they need at the default detail level, and the
documented table says which controls take which of them away."""

from __future__ import annotations

import re

from exporter.core.series import Family
from tools import series_text


def exported_families(exposition: str) -> set[str]:
    """Family names as Prometheus stores their series (a counter's with _total)."""
    names = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", exposition, re.M):
        names.add(name + "_total" if kind == "counter" and not name.endswith("_total") else name)
    return names


def test_every_family_a_dashboard_or_alert_uses_is_exported_at_the_default_detail(
    full_exposition: str,
) -> None:
    exported = exported_families(full_exposition)
    missing = {
        use.where: sorted(
            f for f in use.families if f.startswith("cleanrooms_") and f not in exported
        )
        for use in series_text.uses()
    }
    assert {where: names for where, names in missing.items() if names} == {}
    # The scan finds what the files use: every alert, and panels of every dashboard.
    uses = series_text.uses()
    assert sum(1 for u in uses if u.where.startswith("alert ")) >= 25
    assert {u.where.split(" / ")[0] for u in uses if " / " in u.where} >= {
        "Overview",
        "Exporter health",
        "Cost and capacity",
    }


def test_a_use_breaks_where_its_family_or_a_label_it_reads_goes() -> None:
    family = Family(
        "cleanrooms_things", "gauge", "Things.", ("membership_id", "collaboration_id", "status")
    )
    by_status = series_text.Use("x", 'sum by (status) (cleanrooms_things{job="a"})')
    per_membership = series_text.Use("y", "cleanrooms_things > 0\n{{ $labels.membership_id }}")
    assert series_text.breaks_at(family, by_status) is None
    assert series_text.breaks_at(family, per_membership) == "collaboration"
    stamp = Family(
        "cleanrooms_thing_created_timestamp_seconds", "gauge", "When.", ("collaboration_id",)
    )
    assert (
        series_text.breaks_at(
            stamp, series_text.Use("z", "time() - cleanrooms_thing_created_timestamp_seconds")
        )
        == "target"
    )


def test_recording_rules_are_followed_to_the_families_they_read() -> None:
    spend = next(u for u in series_text.uses() if u.where == "alert CleanRoomsComputeSpendHigh")
    assert "cleanrooms_protected_query_billed_crpu_seconds_total" in spend.families
