"""The members collector: counts per ACTIVE collaboration, fan-out cost, vanishing series."""

from __future__ import annotations

from exporter.collectors.members import count_statuses


def test_odd_member_summaries_are_counted_apart() -> None:
    counts, invalid = count_statuses(
        [
            {"accountId": "1", "status": "ACTIVE"},
            {"accountId": "2", "status": "PAUSED"},  # unknown: kept as received
            {"accountId": "3"},
            "junk",
        ]
    )
    assert counts == {"ACTIVE": 1, "INVITED": 0, "LEFT": 0, "PAUSED": 1, "REMOVED": 0}
    assert invalid == 2
