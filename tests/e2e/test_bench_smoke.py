"""A small run of each benchmark script, so the scripts and their invariant checks keep working."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from exporter.collectors import REGISTRY
from tests.paths import ROOT


def run_bench(module: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    return result.stdout


def test_load_smoke() -> None:
    out = run_bench("bench.load", "--scrapers", "8", "--duration", "3", "--accounts", "3")
    assert "| exporter /metrics |" in out
    assert "scrapes caused no AWS calls" in out


def test_soak_smoke() -> None:
    out = run_bench("bench.soak", "--polls", "30", "--size", "20")
    assert "| series outliving their collaboration | 0 |" in out
    assert "memory flat" in out


@pytest.mark.parametrize("workers", ["1", "2"])
def test_scale_smoke(workers: str) -> None:
    out = run_bench("bench.scale", "--sizes", "40", "--latency", "0.01", "--workers", workers)
    row = next(line for line in out.splitlines() if line.startswith("| 40 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[7] == "41 (41)"  # first poll: one page per target plus one discovery page
    assert cells[8] == "40 (40)"  # steady state: exactly the minimum
    assert cells[13].endswith("disjoint, complete")


def test_chaos_smoke() -> None:
    out = run_bench(
        "bench.chaos",
        "--duration",
        "8",
        "--baseline",
        "3",
        "--checkpoint",
        "0",
        "--scrapers",
        "10",
    )
    assert "all invariants held" in out
    assert "| counter decreases | 0 |" in out
    assert "| checkpoints equal to moto's truth | 1," in out


def test_percall_smoke() -> None:
    out = run_bench(
        "bench.percall",
        *("--calls", "5", "--targets", "20", "--threads", "2,8", "--shard-threads", "4"),
        *("--latency", "0.01", "--worker-concurrency", "4"),
        *("--instruction-targets", "2", "--no-cachegrind"),
    )
    rows = [line for line in out.splitlines() if line.startswith("| List")]
    operations = {row.split("|")[1].strip() for row in rows}
    # One row per collector, Clean Rooms ML's through their own service's client.
    assert operations == {spec.polling.operations[0] for spec in REGISTRY}
    for row in rows:
        assert float(row.strip("|").split("|")[-1]) > 0  # exporter / stock, measured
    budgets = next(row for row in rows if row.startswith("| ListPrivacyBudgets |"))
    assert "(2 calls, per call)" in budgets  # one call per budget type in each poll
    audiences = next(row for row in rows if row.startswith("| ListAudienceModels |"))
    assert "(3 calls, per call)" in audiences  # three kinds of audience resource a poll
    layouts = ("| 2 |", "| 8 |", "| 2 x 4 |", "| 2 workers x 2 |")
    rounds = [line for line in out.splitlines() if line.startswith(layouts)]
    assert len(rounds) == 4
    assert all(r.strip("|").split("|")[7].strip() == "20" for r in rounds)  # calls: minimal


def test_scale_every_collector_smoke() -> None:
    out = run_bench(
        "bench.scale",
        *("--collectors", "all", "--sizes", "20", "--latency", "0.01"),
        *("--interval", "4s", "--load-seconds", "12", "--scrape-every", "2"),
    )
    row = next(line for line in out.splitlines() if line.startswith("| 20 | 100 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert int(cells[3]) >= 3  # scrapes made while the polls run
    assert cells[-1] == "yes"  # every collector's calls in a round equal its formula
    assert float(cells[10]) > 0  # the formula's calls a second, to compare against
    assert cells[12] == "6-10"  # two intervals of the slowest, half the fastest away
    assert re.fullmatch(r"\d+ of \d+", cells[13])  # schedule lag, from the lag metric
    assert float(cells[16]) > 0  # CPU per call against stock, measured
    per_collector = {
        line.split("|")[1].strip(): [c.strip() for c in line.strip("|").split("|")]
        for line in out.splitlines()
        if line.startswith("| ") and line.count("|") == 6 and not line.startswith("| collector")
    }
    rows = {spec.name for spec in REGISTRY}
    shared = "ml_collaboration_trained_models + ml_model_exports"
    assert set(per_collector) == (rows - set(shared.split(" + "))) | {shared}
    assert per_collector["privacy_budgets"][1] == "200 (200)"  # two budget types
    assert per_collector["ml_audiences"][1] == "60 (60)"  # three listings per target
    # Per ACTIVE membership, one listing each; the stand-in's trained models are not
    # ACTIVE, so ml_model_exports lists no model's exports. The two share an operation,
    # so their calls are counted together.
    assert per_collector[shared][1] == "200 (200)"
    assert per_collector["analysis_log_exports"][1] == "100 (100)"
    assert per_collector["ml_audience_exports"][1] == "20 (20)"
    series = {name: int(found[3]) for name, found in per_collector.items()}
    assert all(series.values())  # read from cleanrooms_exporter_series
    assert sum(series.values()) < int(cells[2])  # the exporter's own series come on top
    lags = [found[4] for found in per_collector.values()]
    assert any(re.fullmatch(r"\d+ of [1-9]\d*, worst ≤ \S+", lag) for lag in lags)


def test_the_load_window_holds_whole_rounds_of_the_collectors_it_compares() -> None:
    from bench.orgscale import Load, chosen

    every = chosen("all")
    assert Load("30s", 90, 5, every).window() == (45.0, 75.0)
    assert Load("30s", 90, 5, every).counted() == set(every)
    # Default intervals: 700 s of load hold two of five minutes (with a minute the
    # shortest); collectors polling less often than that have no whole round in it.
    default = Load("default", 700, 5, every)
    assert default.window() == (330.0, 630.0)
    slower = {s.name for s in REGISTRY if (s.polling.default_interval or 300) > 300}
    assert slower
    assert set(every) - default.counted() == slower
    assert Load("30s", 20, 5, every).window() == (15.0, 20)  # too short: what there is
