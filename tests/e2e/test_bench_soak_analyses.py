"""A short run of the protected queries soak, so the script and its checks keep working."""

from __future__ import annotations

from tests.e2e.test_bench_smoke import run_bench


def test_soak_analyses_smoke() -> None:
    out = run_bench("bench.soak_analyses", "--seconds", "15", "--rate", "40")
    assert "every finished query counted, fetched and billed once" in out
    assert "memory flat" in out
