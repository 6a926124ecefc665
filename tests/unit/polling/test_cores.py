"""poll_workers: auto counts the usable cores: the affinity mask, capped by cgroup quotas."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.config import ConfigError, parse_config
from exporter.polling.cores import CpuSources, cpu_quota, resolve_workers, usable_cores


def sources(tmp_path: Path, cgroup: str, cores: int = 8) -> CpuSources:
    proc = tmp_path / "proc-self-cgroup"
    proc.write_text(cgroup)
    return CpuSources(tmp_path / "cgroup", proc, lambda: cores)


def write(tmp_path: Path, relative: str, text: str) -> None:
    path = tmp_path / "cgroup" / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_no_quota_leaves_the_affinity_mask(tmp_path: Path) -> None:
    found = sources(tmp_path, "0::/\n", cores=6)
    write(tmp_path, "cpu.max", "max 100000\n")
    assert cpu_quota(found) is None
    assert usable_cores(found) == 6


@pytest.mark.parametrize(
    ("quota", "expected"),
    [("200000 100000", 2), ("150000 100000", 1), ("50000 100000", 1), ("400000 50000", 8)],
)
def test_a_cgroup_v2_quota_caps_the_cores_rounded_down_at_least_one(
    tmp_path: Path, quota: str, expected: int
) -> None:
    found = sources(tmp_path, "0::/\n")  # a container with its own cgroup namespace
    write(tmp_path, "cpu.max", f"{quota}\n")
    assert usable_cores(found) == expected


def test_the_lowest_quota_on_the_way_to_the_root_wins(tmp_path: Path) -> None:
    found = sources(tmp_path, "0::/kubepods/pod1/container\n", cores=16)
    write(tmp_path, "kubepods/cpu.max", "max 100000\n")
    write(tmp_path, "kubepods/pod1/cpu.max", "300000 100000\n")
    write(tmp_path, "kubepods/pod1/container/cpu.max", "500000 100000\n")
    assert cpu_quota(found) == pytest.approx(3.0)
    assert usable_cores(found) == 3


def test_a_cgroup_v1_quota(tmp_path: Path) -> None:
    found = sources(tmp_path, "12:cpu,cpuacct:/docker/abc\n11:memory:/docker/abc\n")
    write(tmp_path, "cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "250000\n")
    write(tmp_path, "cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n")
    assert usable_cores(found) == 2
    write(tmp_path, "cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "-1\n")  # no limit
    assert usable_cores(found) == 8


def test_a_fewer_cpus_mask_wins_over_a_larger_quota(tmp_path: Path) -> None:
    found = sources(tmp_path, "0::/\n", cores=2)
    write(tmp_path, "cpu.max", "800000 100000\n")
    assert usable_cores(found) == 2


def test_unreadable_or_odd_files_are_no_limit(tmp_path: Path) -> None:
    found = sources(tmp_path, "garbage\n0::/\n")
    write(tmp_path, "cpu.max", "lots 100000\n")
    assert usable_cores(found) == 8
    missing = CpuSources(tmp_path / "none", tmp_path / "none-either", lambda: 3)
    assert usable_cores(missing) == 3


def test_auto_is_parsed_and_resolved_and_numbers_stay_numbers(tmp_path: Path) -> None:
    assert parse_config("poll_workers: auto\n", {}).poll_workers == "auto"
    assert parse_config("poll_workers: 3\n", {}).poll_workers == 3
    found = sources(tmp_path, "0::/\n", cores=4)
    write(tmp_path, "cpu.max", "300000 100000\n")
    assert resolve_workers("auto", found) == 3
    assert resolve_workers(5, found) == 5
    with pytest.raises(ConfigError, match="poll_workers: must be a positive integer or auto"):
        parse_config("poll_workers: many\n", {})
    with pytest.raises(ConfigError, match="poll_workers: must be greater than zero"):
        parse_config("poll_workers: 0\n", {})
