"""The protected_jobs collector: job statuses, the one-at-a-time quota, and its families."""

from __future__ import annotations

from exporter.collectors import protected_jobs
from exporter.collectors.base import TargetData
from exporter.collectors.collaborations import PollData
from exporter.collectors.protected_analyses import AnalysesData, MembershipAnalyses, findings
from exporter.collectors.status_counts import Item, tally
from exporter.core.model import AT_LIMIT
from exporter.core.series import OutputSettings
from exporter.metrics.declared import families
from tests.helpers import active_collaboration

KEY = ("111111111111", "us-east-1")
KIND = protected_jobs.KIND


def data(*jobs: Item) -> AnalysesData:
    found = tally(KIND.rules, jobs, None, window_start=0.0)
    return AnalysesData({"c1": MembershipAnalyses("m1", found)})


def test_one_running_job_is_the_membership_quota_and_others_wait() -> None:
    running = data(Item("j1", "STARTED", 10.0), Item("j2", "SUBMITTED", 20.0))
    (limit,) = findings(KIND, KEY, running)
    assert (limit.membership_id, limit.severity) == ("m1", AT_LIMIT)
    assert limit.what == "jobs: 1 running; AWS allows 1 at once; 1 more is waiting"
    assert findings(KIND, KEY, data(Item("j1", "SUCCESS", 10.0))) == []


def test_jobs_have_no_timed_out_status_and_their_own_families() -> None:
    parent = PollData((active_collaboration("c1", "m1"),), {}, None)
    item = TargetData(KEY, data(Item("j1", "FAILED", 10.0)), parent)
    built = {f.name: f for f in families(protected_jobs.SPEC, [item], OutputSettings())}
    counts = {s.labels["status"]: s.value for s in built["cleanrooms_protected_jobs"].samples}
    assert counts["FAILED"] == 1
    assert "TIMED_OUT" not in counts
    finished = built["cleanrooms_protected_jobs_finished"].samples
    assert {s.labels["status"] for s in finished} == {"SUCCESS", "FAILED", "CANCELLED"}
    assert all(s.value == 0 for s in finished)  # the first poll is a baseline
    assert "cleanrooms_protected_job_duration_seconds" in built
