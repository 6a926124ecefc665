"""CPU and instructions per API call: the exporter next to a stock botocore client, same run.

    python -m bench.percall                        # the documented run (about 10 minutes)
    python -m bench.percall --calls 20 --targets 40 --threads 4,16 --no-cachegrind  # CI smoke
    BENCH_OPERATIONS=ListCollaborations python -m bench.percall   # some operations only

Three tables, every figure against a baseline measured in the same invocation:

1. Per collector (its first list operation; Clean Rooms ML's through the ``cleanroomsml``
   client): process CPU per call of a stock botocore client making the calls alone,
   sequentially, next to the exporter making the same calls through the collector's
   poll (client, parser, instrumentation, paging and the collector's parse), against
   the stand-in with no added latency.
2. Steady rounds of the whole exporter (``App``, Organizations discovery, roles) at
   ``--targets`` targets against a stand-in adding ``--latency`` to every request, for
   each worker-thread count in ``--threads``, each in a fresh process: round time,
   CPU per ListCollaborations call (everything included), context switches per call.
   Next to them, the stock client's CPU per call, and the bare-client floor.
3. Instructions per call under cachegrind (``valgrind --tool=cachegrind``): they do
   not move with machine load. Each figure is (I(N calls) - I(0 calls)) / N, so start-up
   and the first calls are not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

from bench.calls import (
    calls_per_poll,
    cpu_and_switches,
    cpu_per_call,
    exporter_caller,
    operations,
    peak_rss_mib,
    progress,
    stock_caller,
    wait_round,
    wait_warm,
    worker_pids,
)
from bench.common import bare_client_round, config_text, counts, standin, use_fake_credentials


def per_operation(endpoint: str, calls: int, repeats: int = 3) -> list[dict[str, Any]]:
    rows = []
    for operation, collector in operations():
        progress(f"CPU per call: {operation}")
        stock = stock_caller(endpoint, operation)
        ours = exporter_caller(endpoint, operation, collector)
        each = calls_per_poll(endpoint, operation, collector)  # a poll's CPU is shared by them
        pairs = [
            (cpu_per_call(stock, calls), cpu_per_call(ours, calls) / each) for _ in range(repeats)
        ]
        path = f"{collector} collector poll" if collector else "exporter client call"
        rows.append(
            {
                "operation": operation,
                "path": path if each == 1 else f"{path} ({each} calls, per call)",
                "stock_ms": statistics.median(p[0] for p in pairs) * 1000,
                "exporter_ms": statistics.median(p[1] for p in pairs) * 1000,
                "ratio": statistics.median(p[1] / p[0] for p in pairs),
            }
        )
    return rows


def steady_round(
    endpoint: str, threads: int, shard: tuple[int, int] = (0, 1), workers: int = 1
) -> dict[str, Any]:
    """One steady round of the whole exporter (or one shard of it), in this fresh process.

    A shard says "ready" and waits for a line on stdin, so that every shard's round
    starts together; the caller then counts the calls at the stand-in. With poll
    workers (``threads`` is then the whole exporter's concurrency), their CPU, context
    switches and peak RSS count with this process's.
    """
    from exporter.app import App
    from exporter.config import parse_config

    text = config_text(endpoint, shard, threads, workers)
    app = App(parse_config(text, {}))
    app.start()
    app.wait_ready()
    wait_warm(app)
    if shard[1] > 1:
        print("ready", flush=True)
        sys.stdin.readline()
    else:
        counts(endpoint, reset=True)
    pids: list[int | str] = ["self", *(p for p in worker_pids(app) if p)]
    cpu, switches = cpu_and_switches(pids)
    wall = time.perf_counter()
    app.poller.poll_all_now()
    wait_round(app.poller)
    wall = time.perf_counter() - wall
    cpu_after, switches_after = cpu_and_switches(pids)
    peak = sum(peak_rss_mib(pid) for pid in pids)
    app.stop()
    return {
        "threads": threads if workers == 1 else f"{workers} workers x {threads // workers}",
        "round_s": wall,
        "cpu_s": cpu_after - cpu,
        "switches": switches_after - switches,
        "calls": 0 if shard[1] > 1 else counts(endpoint)["ListCollaborations"],
        "peak_rss_mib": peak,
    }


DEFAULT_THREADS = 16  # the exporter's default concurrency
ROUND = (sys.executable, "-m", "bench.percall", "--round")


def sharded_round(endpoint: str, threads: int, processes: int) -> dict[str, Any]:
    """``processes`` exporters, one shard each, polling their rounds at the same time."""
    children = [
        subprocess.Popen(
            [*ROUND, endpoint, str(threads), "--shard", f"{index}/{processes}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for index in range(processes)
    ]
    for child in children:
        line = child.stdout.readline() if child.stdout else ""
        if line.strip() != "ready":
            raise RuntimeError(f"a shard did not get ready: {line!r}")
    counts(endpoint, reset=True)
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    rows = [json.loads(child.communicate()[0].strip().splitlines()[-1]) for child in children]
    return {
        "threads": f"{processes} x {threads}",
        "round_s": max(r["round_s"] for r in rows),
        "cpu_s": sum(r["cpu_s"] for r in rows),
        "switches": sum(r["switches"] for r in rows),
        "calls": counts(endpoint)["ListCollaborations"],
        "peak_rss_mib": sum(r["peak_rss_mib"] for r in rows),
    }


def sweep(
    endpoint: str,
    targets: int,
    thread_counts: list[int],
    shard_threads: list[int],
    calls: int,
    worker_concurrency: Sequence[int] = (),
) -> dict[str, Any]:
    """Each round next to a stock measurement made right after it, so load hits both."""
    stock = stock_caller(endpoint, "ListCollaborations")
    rounds = []
    layouts = [("threads", t) for t in thread_counts] + [("shards", t) for t in shard_threads]
    layouts += [("workers", c) for c in worker_concurrency]
    for layout, threads in layouts:
        progress(f"steady round: {layout}, {threads} threads")
        if layout == "shards":
            row = sharded_round(endpoint, threads, 2)
        else:
            args = ["--round", endpoint, str(threads)]
            args += ["--workers", "2" if layout == "workers" else "1"]
            row = json.loads(_child(args).strip().splitlines()[-1])
        row["cpu_ms_per_call"] = row["cpu_s"] / row["calls"] * 1000
        row["switches_per_call"] = row["switches"] / row["calls"]
        usage = resource.getrusage(resource.RUSAGE_SELF)
        row["stock_ms"] = cpu_per_call(stock, calls) * 1000
        after = resource.getrusage(resource.RUSAGE_SELF)
        switches = after.ru_nvcsw + after.ru_nivcsw - usage.ru_nvcsw - usage.ru_nivcsw
        row["stock_switches"] = switches / (calls + 3)
        rounds.append(row)
    bare = statistics.median(bare_client_round(endpoint, targets) for _ in range(3))
    return {"rounds": rounds, "bare_s": bare}


def _child(args: list[str], prefix: list[str] | None = None) -> str:
    command = [*(prefix or []), sys.executable, "-m", "bench.percall", *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout + done.stderr


def instructions(endpoint: str, calls: int) -> list[dict[str, Any]]:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        sys.exit(
            "valgrind is not installed (Debian: apt-get install valgrind); "
            "or run with --no-cachegrind"
        )
    rows = []
    for operation, collector in operations():
        progress(f"instructions: {operation}")
        row: dict[str, Any] = {"operation": operation}
        for side in ("stock", "exporter"):
            base, more = (
                _refs(valgrind, [side, endpoint, operation, collector or "-", str(n)])
                for n in (0, calls)
            )
            row[side] = (more - base) / calls
        row["exporter"] /= calls_per_poll(endpoint, operation, collector)
        row["ratio"] = row["exporter"] / row["stock"]
        rows.append(row)
    return rows


def _refs(valgrind: str, args: list[str]) -> int:
    with tempfile.NamedTemporaryFile(suffix=".cachegrind") as out:
        prefix = [
            valgrind,
            "--tool=cachegrind",
            "--cache-sim=no",
            f"--cachegrind-out-file={out.name}",
        ]
        text = _child(args if args[0].startswith("--") else ["--count", *args], prefix)
    match = re.search(r"I\s+refs:\s+([\d,]+)", text)
    if match is None:
        raise RuntimeError(f"no instruction count in cachegrind's output:\n{text[-2000:]}")
    return int(match.group(1).replace(",", ""))


def round_instructions(endpoint: str, targets: int, threads: int) -> float:
    """The whole exporter's instructions per call over steady rounds: (I(3) - I(1)) / 2n."""
    valgrind = shutil.which("valgrind")
    assert valgrind is not None  # checked by instructions()
    one, three = (
        _refs(valgrind, ["--count-round", endpoint, str(targets), str(threads), str(n)])
        for n in (1, 3)
    )
    return (three - one) / (2 * targets)


def whole_rounds(endpoint: str, targets: int, refs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows for whole steady rounds, next to the stock ListCollaborations call (if measured)."""
    stock = next((r["stock"] for r in refs if r["operation"] == "ListCollaborations"), None)
    rows = []
    for threads in [] if stock is None else sorted({1, DEFAULT_THREADS}):
        progress(f"instructions: steady round, {threads} threads")
        per_call = round_instructions(endpoint, targets, threads)
        rows.append(
            {
                "operation": f"ListCollaborations, whole exporter, steady round of {targets} "
                f"targets, {threads} thread{'s' if threads > 1 else ''}",
                "stock": stock,
                "exporter": per_call,
                "ratio": per_call / stock,
            }
        )
    return rows


def count_round_child(endpoint: str, targets: int, threads: int, rounds: int) -> None:
    """Under cachegrind: start the exporter, then ``rounds`` steady rounds."""
    from exporter.app import App
    from exporter.config import parse_config

    text = config_text(endpoint, concurrency=threads)
    app = App(parse_config(text, {}))
    app.start()
    app.wait_ready()
    wait_warm(app)
    for done in range(rounds):
        app.poller.poll_all_now()
        wait_round(app.poller, done + 2)
    app.stop()


def count_child(side: str, endpoint: str, operation: str, collector: str, calls: int) -> None:
    """Under cachegrind: set up, warm, then ``calls`` more calls (0 for the baseline)."""
    if side == "stock":
        call = stock_caller(endpoint, operation)
    else:
        call = exporter_caller(endpoint, operation, None if collector == "-" else collector)
    for _ in range(3 + calls):
        call()


def _rounds_table(swept: dict[str, Any]) -> list[str]:
    bare = swept["bare_s"]
    lines = [
        "",
        f"Steady rounds; bare-client floor {bare:.2f} s (median of 3). Stock: a stock client's "
        "ListCollaborations calls alone, measured right after each round:",
        "",
        "| threads | round s | round / bare | CPU ms per call | stock ms | per call / stock "
        "| context switches per call (stock) | API calls | peak RSS MiB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in swept["rounds"]:
        lines.append(
            f"| {r['threads']} | {r['round_s']:.2f} | {r['round_s'] / bare:.2f} "
            f"| {r['cpu_ms_per_call']:.2f} | {r['stock_ms']:.2f} "
            f"| {r['cpu_ms_per_call'] / r['stock_ms']:.2f} "
            f"| {r['switches_per_call']:.1f} ({r['stock_switches']:.1f}) | {r['calls']} "
            f"| {r['peak_rss_mib']:.0f} |"
        )
    return lines


def report(ops: list[dict[str, Any]], swept: dict[str, Any], refs: list[dict[str, Any]]) -> str:
    lines = ["CPU per call, sequential, stand-in with no added latency (median of 3):", ""]
    lines += [
        "| operation | exporter path | stock botocore ms | exporter ms | exporter / stock |",
        "|---|---|---:|---:|---:|",
    ]
    for r in ops:
        lines.append(
            f"| {r['operation']} | {r['path']} | {r['stock_ms']:.2f} "
            f"| {r['exporter_ms']:.2f} | {r['ratio']:.2f} |"
        )
    lines += _rounds_table(swept)
    if refs:
        lines += [
            "",
            "Instructions per call (cachegrind):",
            "",
            "| operation | stock botocore | exporter | exporter / stock |",
            "|---|---:|---:|---:|",
        ]
        for r in refs:
            lines.append(
                f"| {r['operation']} | {r['stock'] / 1e6:.2f} M "
                f"| {r['exporter'] / 1e6:.2f} M | {r['ratio']:.2f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="calls per CPU measurement")
    parser.add_argument("--targets", type=int, default=600)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--threads", default="4,8,16,32,64")
    parser.add_argument("--instruction-calls", type=int, default=50)
    parser.add_argument("--no-cachegrind", action="store_true")
    parser.add_argument(
        "--shard-threads", default="16,32", help="threads of each of 2 shard processes"
    )
    parser.add_argument(
        "--worker-concurrency",
        default="32,64",
        help="concurrency of the whole exporter with poll_workers: 2",
    )
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)  # internal
    parser.add_argument("--round", nargs=2, help=argparse.SUPPRESS)  # internal
    parser.add_argument("--shard", default="0/1", help=argparse.SUPPRESS)  # internal
    parser.add_argument("--count", nargs=5, help=argparse.SUPPRESS)  # internal
    parser.add_argument("--count-round", nargs=4, help=argparse.SUPPRESS)  # internal
    parser.add_argument("--instruction-targets", type=int, default=100)
    args = parser.parse_args(argv)
    use_fake_credentials()
    if args.round:
        endpoint, threads = args.round
        index, count = (int(n) for n in args.shard.split("/"))
        row = steady_round(endpoint, int(threads), (index, count), args.workers)
        print(json.dumps(row))
        return 0
    if args.count_round:
        endpoint, targets, threads, rounds = args.count_round
        count_round_child(endpoint, int(targets), int(threads), int(rounds))
        return 0
    if args.count:
        side, endpoint, operation, collector, calls = args.count
        count_child(side, endpoint, operation, collector, int(calls))
        return 0
    thread_counts = [int(t) for t in args.threads.split(",")]
    refs: list[dict[str, Any]] = []
    with standin(max(args.instruction_targets // 2, 1), 0.0) as quick:
        ops = per_operation(quick, args.calls)
        if not args.no_cachegrind:
            refs = instructions(quick, args.instruction_calls)
            refs += whole_rounds(quick, args.instruction_targets, refs)
    with standin(args.targets // 2, args.latency) as slow:
        shard_threads = [int(t) for t in args.shard_threads.split(",") if t]
        workers = [int(c) for c in args.worker_concurrency.split(",") if c]
        calls = max(args.calls // 2, 10)
        swept = sweep(slow, args.targets, thread_counts, shard_threads, calls, workers)
    print(report(ops, swept, refs))
    exact = all(r["calls"] == args.targets for r in swept["rounds"])
    return 0 if exact else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
