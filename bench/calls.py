"""What one measured call is: the stock client's, the exporter's, and how their CPU is taken."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any

from bench.bodies import IDENTIFIER, request_params, service_of

REGION = "us-east-1"
ACCOUNT = "100000000000"


def operations() -> list[tuple[str, str | None]]:
    """(first operation, collector) for every collector: one row per collector's poll.

    A poll's own calls are its list operations (``ml_audiences`` makes three, one page
    each); the analyses' Get calls come only when an analysis finishes, never in a steady
    poll, so the row's figure is the poll's CPU over the calls it made.
    """
    from exporter.collectors import REGISTRY

    rows: list[tuple[str, str | None]] = [
        (spec.polling.operations[0], spec.name) for spec in REGISTRY
    ]
    only = os.environ.get("BENCH_OPERATIONS")  # a comma list, to measure a few only
    return [row for row in rows if not only or row[0] in only.split(",")]


def stock_caller(endpoint: str, operation: str) -> Callable[[], Any]:
    """One call of a stock botocore client: default session, parser and configuration."""
    import botocore.session
    from botocore import xform_name

    client = botocore.session.get_session().create_client(
        service_of(operation), region_name=REGION, endpoint_url=endpoint
    )
    method = getattr(client, xform_name(operation))
    params = request_params(operation)
    return lambda: method(**params)


def exporter_caller(
    endpoint: str, operation: str, collector: str | None, stats: Any = None
) -> Callable[[], Any]:
    """The same call made by the exporter: through the collector's poll when there is one."""
    from exporter.aws.clients import AwsClients
    from exporter.collectors import BY_NAME
    from exporter.collectors.base import PollContext
    from exporter.collectors.collaborations import Collaboration, PollData
    from exporter.config import AccountConfig, AwsSettings
    from exporter.config.scale import RateLimit
    from exporter.core.stats import ApiStats

    # The rate limit's hook runs as in production; a high rate keeps it from sleeping.
    limit = RateLimit(requests_per_second=1e6, burst=1000)
    settings = AwsSettings(endpoint_url=endpoint, max_attempts=2)
    clients = AwsClients(settings, stats or ApiStats(), rate_limit=limit)
    account = AccountConfig(id=ACCOUNT, regions=(REGION,))
    client = clients.cleanrooms(account, ACCOUNT, REGION, service=service_of(operation))
    if collector is None:  # no collector yet: the exporter's client call alone
        params = request_params(operation)
        return lambda: client.call(operation, **params)
    spec = BY_NAME[collector]
    one = Collaboration(IDENTIFIER, "c", ACCOUNT, "", "ACTIVE", IDENTIFIER, 1.0, 1.0)
    data = PollData((one,), {"ACTIVE": 1}, None)  # fan-out collectors: one call each poll
    options = {o.name: o.default for o in spec.polling.options}
    return lambda: spec.polling.poll(
        PollContext(client, data, None, 1000, time.time(), None, options)
    )


def calls_per_poll(endpoint: str, operation: str, collector: str | None) -> int:
    """API calls one exporter poll makes (privacy_budgets: one per budget type).

    Every operation of the poll counts: ``ml_audiences`` lists three kinds of resource.
    """
    from exporter.core.stats import ApiStats

    stats = ApiStats()
    exporter_caller(endpoint, operation, collector, stats)()
    counts = stats.view().targets[(ACCOUNT, REGION)]
    return sum(counts.requests.values())


def progress(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def cpu_per_call(call: Callable[[], Any], calls: int) -> float:
    for _ in range(3):
        call()  # warm: models loaded, connection open, plans compiled
    began = time.process_time()
    for _ in range(calls):
        call()
    return (time.process_time() - began) / calls


def wait_round(poller: Any, polls: int = 2) -> None:
    """Until every target has polled ``polls`` times; one look per check: the wait is cheap."""
    pending = list(poller.snapshot.states)
    while pending:
        if poller.snapshot.states[pending[-1]].polls >= polls:
            pending.pop()
        else:
            time.sleep(0.005)


def wait_warm(app: Any) -> None:
    """Until the app's first rendering is cached (a release without one: at once).

    It follows ready; measured rounds must not share the CPU with it.
    """
    warmed = getattr(app, "warmed", None)
    if warmed is not None:
        warmed.wait(600)


def worker_pids(app: Any) -> list[int | None]:
    """The app's poll worker processes; none for a release without them."""
    pool = getattr(app, "pool", None)
    return pool.pids() if pool is not None else []


def peak_rss_mib(pid: int | str = "self") -> float:
    """A process's own peak RSS (VmHWM); this one's by default.

    Not ``ru_maxrss``: Linux carries the parent's peak across fork and exec into it.
    """
    return _status(pid)["VmHWM"] / 1024


def _status(pid: int | str) -> dict[str, int]:
    found = {"VmHWM": 0}  # a thread's status has no memory lines
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in {"VmHWM", "voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"}:
                found[key] = int(rest.split()[0])
    return found


def cpu_and_switches(pids: list[int | str]) -> tuple[float, int]:
    """CPU seconds (user + system) and context switches so far, summed over ``pids``.

    Read from /proc so that poll worker processes count as well as this one.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    cpu, switches = 0.0, 0
    for pid in pids:
        if pid == "self":
            # Exact for every thread; /proc/self/stat fell behind it fivefold under the
            # organisation-scale load (bench/orgscale.py).
            cpu += time.process_time()
        else:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        for task in os.listdir(f"/proc/{pid}/task"):  # the process's own line is one thread's
            status = _status(f"{pid}/task/{task}")
            switches += status["voluntary_ctxt_switches"] + status["nonvoluntary_ctxt_switches"]
    return cpu, switches
