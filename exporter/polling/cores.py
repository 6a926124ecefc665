"""How many poll worker processes ``poll_workers: auto`` runs: the cores this process may use.

The usable cores are the CPUs of its affinity mask (``taskset``, a cpuset, a container's
``--cpuset-cpus``), capped by the CPU quota of its cgroup and of every cgroup above it
(cgroup v2 ``cpu.max``, v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``: a container's
``--cpus``, a Kubernetes CPU limit), rounded down to whole cores and at least one, as
uber-go/automaxprocs does for Go: a worker per whole core, so that the workers do not take
turns on a quota. The number of targets plays no part: a worker is a core's worth of polling,
whatever it polls. ``auto`` that finds one core polls in the exporter's own process.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

log = logging.getLogger(__name__)

AUTO = "auto"


def _affinity() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity mask on this platform (macOS)
        return os.cpu_count() or 1


@dataclass(frozen=True)
class CpuSources:
    """Where the limits are read; tests point them at files of their own."""

    cgroup_root: Path = Path("/sys/fs/cgroup")
    proc_cgroup: Path = Path("/proc/self/cgroup")
    affinity: Callable[[], int] = field(default=_affinity)


def resolve_workers(value: int | str, sources: CpuSources | None = None) -> int:
    """``poll_workers`` as a number of processes: itself, or ``auto``'s usable cores."""
    if value != AUTO:
        return int(value)
    return usable_cores(sources or CpuSources())


def usable_cores(sources: CpuSources) -> int:
    """The affinity mask's CPUs, capped by the lowest cgroup quota, whole and at least 1."""
    cores = max(1, sources.affinity())
    quota = cpu_quota(sources)
    if quota is not None:
        cores = min(cores, max(1, math.floor(quota)))
    return cores


def cpu_quota(sources: CpuSources) -> float | None:
    """The lowest CPU quota (in CPUs) of this process's cgroups; None when none is set."""
    quotas = [q for path in _quota_files(sources) if (q := _read_quota(path)) is not None]
    return min(quotas, default=None)


def _quota_files(sources: CpuSources) -> Iterator[Path]:
    """Every cpu.max (v2) or cpu.cfs_quota_us (v1) from this process's cgroup up to the root.

    Inside a container with its own cgroup namespace the process's path is ``/`` and the
    root's files are the container's; without one the path may not exist under the mount,
    and the mount's own files still apply.
    """
    for version, controllers, path in _memberships(sources.proc_cgroup):
        if version == "v2":
            bases = [sources.cgroup_root]
            name = "cpu.max"
        elif "cpu" in controllers:
            mounts = ("cpu,cpuacct", "cpuacct,cpu", "cpu")
            bases = [sources.cgroup_root / m for m in mounts]
            name = "cpu.cfs_quota_us"
        else:
            continue
        for base in bases:
            for ancestor in (path, *path.parents):
                candidate = base / str(ancestor).lstrip("/") / name
                if candidate.is_file():
                    yield candidate


def _memberships(proc_cgroup: Path) -> Iterator[tuple[str, set[str], PurePosixPath]]:
    """(v1 or v2, controllers, path) of each line of /proc/self/cgroup."""
    try:
        text = proc_cgroup.read_text()
    except OSError:
        return
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        version = "v2" if hierarchy == "0" and not controllers else "v1"
        yield version, set(controllers.split(",")), PurePosixPath(path or "/")


def _read_quota(path: Path) -> float | None:
    """CPUs a quota file allows; None for no limit, or a file that cannot be read."""
    try:
        if path.name == "cpu.max":
            quota, _, period = path.read_text().strip().partition(" ")
        else:
            quota = path.read_text().strip()
            period = (path.parent / "cpu.cfs_period_us").read_text().strip()
        if quota in ("max", "-1"):
            return None
        allowed = int(quota) / int(period or "100000")
    except (OSError, ValueError, ZeroDivisionError) as err:
        log.debug("cannot read the CPU quota in %s: %s", path, err)
        return None
    return allowed if allowed > 0 else None
