"""The change_requests collector against the fake: pending counts, oldest age, calls per poll."""

from __future__ import annotations

from exporter.collectors.change_requests import summarize


def test_only_pending_requests_count_and_bad_ones_are_skipped() -> None:
    from datetime import UTC, datetime

    at = datetime.fromtimestamp(1_700_000_000, UTC)
    pending, invalid = summarize(
        [
            {"id": "r1", "status": "PENDING", "createTime": at},
            {"id": "r2", "status": "APPROVED", "createTime": datetime.fromtimestamp(1, UTC)},
            {"id": "r3", "status": "PENDING", "createTime": "yesterday"},
            {"id": "r4", "createTime": at},
        ]
    )
    assert (pending.count, pending.oldest, invalid) == (1, 1_700_000_000, 2)
