"""The monitoring kit against a real Prometheus scraping the demo exporter.

Every dashboard query, template variable, recording rule and alert is sent to
Prometheus after a few seconds of 1s scrapes, so a query that does not parse,
a metric the exporter does not export or a rule that fails to evaluate shows
up here rather than on someone's empty dashboard.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.collectors import intermediate_tables, ml_trained_models
from tests.conftest import require_tool
from tests.faultproxy import wait_for
from tests.paths import ROOT

DASHBOARD_DIR = ROOT / "grafana" / "dashboards"
RULE_FILES = (ROOT / "prometheus" / "rules.yaml", ROOT / "prometheus" / "alerts.yaml")
JOB = "cleanrooms-exporter"

# Template variables as Grafana would expand them with "All" selected
# (allValue ".*", used with =~) and a short time range. A panel may look
# $__interval back with `offset`: the series must be older than that when
# the first test runs, a few seconds of warm-up after start.
VARIABLES = {
    "job": JOB,
    "instance": ".*",
    "account_id": ".*",
    "region": ".*",
    "__rate_interval": "1m",
    "__range": "5m",
    "__interval": "5s",
}
_VARIABLE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)\]\]|\$(\w+)")
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(.*\S)\s*,\s*)?(\w+)\s*\)\s*$", re.S)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
# Metric names: the exporter's own and the ones Prometheus adds per scrape.
_METRIC = re.compile(r"(?<![\w:])(?:cleanrooms[_:][a-zA-Z0-9_:]*|up|scrape_[a-z_]+)(?![\w:])")
_SUFFIX = re.compile(r"_(?:bucket|sum|count)$")
_SCRAPE_METRICS = re.compile(r"^(?:up|scrape_[a-z_]+)$")
# Seconds of 1s scrapes to collect before querying, so rate() windows hold several samples.
WARM_UP_SCRAPES = 15
MIN_POLLS = 3
# Series that only exist once the demo has produced what they count: an error code's
# counter appears at the first analysis FAILED with that code, a status's duration
# histogram at the first analysis that finished so (the demo finishes its first queries
# a few seconds after start, at random). A query that is empty while the only metrics it
# lacks are these is asked again until LATE_TIMEOUT, not failed at once.
LATE_SERIES = frozenset(
    {
        "cleanrooms_protected_query_errors_total",
        "cleanrooms_protected_job_errors_total",
        "cleanrooms_protected_query_duration_seconds_bucket",
        "cleanrooms_protected_job_duration_seconds_bucket",
        # A membership's failed counter (a target's, for audiences) appears at 0 at its
        # first poll by the ML or intermediate table collectors, which can come after the
        # warm-up (they fan out over every ACTIVE membership within the target's rate
        # limit), and a membership the demo joins later gets its counter later still: an
        # increase() has nothing to say until the counter has two samples.
        "cleanrooms_ml_trained_models_failed_total",
        "cleanrooms_ml_inference_jobs_failed_total",
        "cleanrooms_ml_input_channels_failed_total",
        "cleanrooms_ml_audience_models_failed_total",
        "cleanrooms_ml_audience_generation_jobs_failed_total",
        "cleanrooms_intermediate_tables_failed_total",
        # The same for the collaboration-wide ML, export and analysis log export collectors.
        "cleanrooms_ml_collaboration_trained_models_failed_total",
        "cleanrooms_ml_collaboration_inference_jobs_failed_total",
        "cleanrooms_ml_collaboration_input_channels_failed_total",
        "cleanrooms_ml_model_export_jobs_failed_total",
        "cleanrooms_ml_audience_export_jobs_failed_total",
        "cleanrooms_analysis_log_exports_failed_total",
    }
)
LATE_TIMEOUT = 60.0


@dataclass(frozen=True)
class Query:
    """One PromQL expression of the kit and where it came from."""

    where: str
    expr: str


@dataclass(frozen=True)
class Stack:
    prometheus: str
    exporter: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def api(base: str, path: str, **params: str) -> dict[str, Any]:
    """GET a Prometheus API path; the decoded envelope, error or not."""
    url = f"{base}{path}?{urllib.parse.urlencode(params)}" if params else f"{base}{path}"
    _, body = get(url)
    result: dict[str, Any] = json.loads(body)
    return result


def query(base: str, expr: str) -> dict[str, Any]:
    return api(base, "/api/v1/query", query=expr)


def answers(url: str) -> bool:
    try:
        return get(url)[0] == 200
    except OSError:
        return False


def start(request: pytest.FixtureRequest, args: list[str], log: Path) -> subprocess.Popen[bytes]:
    """Start a process logging to ``log``; a finalizer stops it whatever happens next."""
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)

    def stop() -> None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    request.addfinalizer(stop)
    return proc


def wait_until_serving(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    def serving() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"{proc.args!r} exited {proc.returncode}:\n{log.read_text()}")
        return answers(url)

    try:
        wait_for(serving, timeout=60)
    except AssertionError as err:
        raise AssertionError(f"{url} never answered 200: {err}\n{log.read_text()}") from None


def scalar(base: str, expr: str) -> float:
    result = query(base, expr)["data"]["result"]
    return float(result[0]["value"][1]) if result else 0.0


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Stack:
    """The demo exporter and a Prometheus scraping it every second with the kit's rules."""
    prometheus_bin = require_tool("prometheus")
    tmp = tmp_path_factory.mktemp("e2e-prometheus")
    exporter_url = f"127.0.0.1:{free_port()}"
    exporter_log = tmp / "exporter.log"
    exporter = start(
        request,
        [
            sys.executable,
            "-m",
            "exporter",
            "--demo",
            "--web.listen-address",
            exporter_url,
            "--demo.poll-interval",
            "2s",
            "--demo.throttle-ratio",
            "0.3",
        ],
        exporter_log,
    )
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(path) for path in RULE_FILES],
        "scrape_configs": [{"job_name": JOB, "static_configs": [{"targets": [exporter_url]}]}],
    }
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
    prometheus_url = f"http://127.0.0.1:{free_port()}"
    prometheus_log = tmp / "prometheus.log"
    prometheus = start(
        request,
        [
            prometheus_bin,
            f"--config.file={tmp / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp / 'data'}",
            f"--web.listen-address={prometheus_url.removeprefix('http://')}",
        ],
        prometheus_log,
    )
    wait_until_serving(exporter, f"http://{exporter_url}/-/ready", exporter_log)
    wait_until_serving(prometheus, f"{prometheus_url}/-/ready", prometheus_log)

    def warmed_up() -> bool:
        scrapes = scalar(prometheus_url, f'count_over_time(up{{job="{JOB}"}}[1m])')
        polls = scalar(prometheus_url, f'min(cleanrooms_target_polls_total{{job="{JOB}"}})')
        return scrapes >= WARM_UP_SCRAPES and polls >= MIN_POLLS

    try:
        wait_for(warmed_up, timeout=45)
    except AssertionError:
        targets = api(prometheus_url, "/api/v1/targets")
        raise AssertionError(
            f"Prometheus did not collect {WARM_UP_SCRAPES} scrapes of {MIN_POLLS}+ polls: "
            f"{json.dumps(targets)}\n{prometheus_log.read_text()[-3000:]}"
        ) from None
    return Stack(prometheus_url, f"http://{exporter_url}")


# --- what the kit asks of Prometheus --------------------------------------------------------


def expand(text: str) -> str:
    """Replace Grafana template variables; an unknown one is left for the parser to reject."""
    defaults = user_variables()

    def value(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group)
        return VARIABLES.get(name, defaults.get(name, match.group(0)))

    return _VARIABLE.sub(value, text)


def user_variables() -> dict[str, str]:
    """The defaults of the dashboards' textbox and constant variables (e.g. a price)."""
    return {
        variable["name"]: str(variable.get("query", ""))
        for _, dashboard in dashboards()
        for variable in dashboard.get("templating", {}).get("list", [])
        if variable.get("type") in {"textbox", "constant"}
    }


def dashboards() -> list[tuple[str, dict[str, Any]]]:
    paths = sorted(DASHBOARD_DIR.glob("*.json"))
    assert paths, f"no dashboards in {DASHBOARD_DIR}"
    return [(path.name, json.loads(path.read_text())) for path in paths]


def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in (collapsed) rows."""
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))


def panel_queries() -> list[Query]:
    found: list[Query] = []
    for name, dashboard in dashboards():
        for panel in panels(dashboard.get("panels", [])):
            for target in panel.get("targets", []):
                if target.get("expr"):
                    where = (
                        f"dashboard {name} panel {panel.get('title')!r} "
                        f"(refId {target.get('refId')})"
                    )
                    found.append(Query(where, target["expr"]))
    return found


def variable_queries() -> list[Query]:
    found: list[Query] = []
    for name, dashboard in dashboards():
        for variable in dashboard.get("templating", {}).get("list", []):
            if variable.get("type") != "query":
                continue
            text = variable.get("query")
            text = text.get("query") if isinstance(text, dict) else text
            if text:
                found.append(Query(f"dashboard {name} variable ${variable['name']}", text))
    return found


def rules() -> list[tuple[str, dict[str, Any]]]:
    """(file name, rule) for every rule in the kit's rule files."""
    found: list[tuple[str, dict[str, Any]]] = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            found.extend((path.name, rule) for rule in group["rules"])
    return found


def rule_query(file: str, rule: dict[str, Any]) -> Query:
    kind, name = ("record", rule["record"]) if "record" in rule else ("alert", rule["alert"])
    return Query(f"{file} {kind} {name}", rule["expr"])


def recorded_names() -> set[str]:
    return {rule["record"] for _, rule in rules() if "record" in rule}


def metric_names(expr: str) -> set[str]:
    """Metric names an expression selects; string literals (label values) are ignored."""
    return set(_METRIC.findall(_STRING.sub('""', expr)))


def base_name(name: str) -> str:
    return _SUFFIX.sub("", name)


def all_kit_queries() -> list[Query]:
    return panel_queries() + [rule_query(file, rule) for file, rule in rules()]


def problem(q: Query, expr: str, message: str) -> str:
    return f"{q.where}: {message}\n    expr: {expr}"


def failure(answer: dict[str, Any]) -> str:
    return f"{answer.get('errorType')}: {answer.get('error')}"


def run(base: str, expr: str) -> tuple[list[Any] | None, str]:
    """The result of an instant query, or None and Prometheus' error."""
    answer = query(base, expr)
    if answer.get("status") != "success":
        return None, failure(answer)
    data = answer["data"]
    result = data["result"] if data["resultType"] in ("vector", "matrix") else [data["result"]]
    return result, ""


def variable_values(base: str, text: str) -> tuple[list[Any] | None, str]:
    """What a template variable query offers: label_values() via the label API, else a query."""
    match = _LABEL_VALUES.match(text)
    if match is None:
        return run(base, text)
    selector, label = match.groups()
    params = {"match[]": selector} if selector else {}
    answer = api(base, f"/api/v1/label/{label}/values", **params)
    if answer.get("status") != "success":
        return None, failure(answer)
    return answer["data"], ""


def exported_names(exposition: str) -> set[str]:
    """Base names of every family declared and every sample in a text exposition."""
    names = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            names.add(line.split()[2])
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return {base_name(name) for name in names}


def run_waiting_for_late_series(base: str, expr: str) -> tuple[list[Any] | None, str]:
    """run(), asked again while it is empty for want of LATE_SERIES (up to LATE_TIMEOUT).

    A late series counts as there once it has two samples in the last minute, enough for
    the rate() of a panel.
    """
    late = metric_names(expr) & LATE_SERIES
    deadline = time.monotonic() + LATE_TIMEOUT
    while True:
        result, error = run(base, expr)
        if result or result is None or not late or time.monotonic() > deadline:
            return result, error
        if all(run(base, f'count_over_time({name}{{job="{JOB}"}}[1m]) >= 2')[0] for name in late):
            return result, error  # every late series is there: empty for another reason
        time.sleep(1)


def report(problems: list[str], what: str) -> None:
    assert not problems, f"{len(problems)} {what}:\n" + "\n".join(problems)


# --- tests ---------------------------------------------------------------------------------


def test_every_dashboard_query_parses_and_returns_data(stack: Stack) -> None:
    queries = panel_queries()
    assert queries, "no panel queries found"
    problems = []
    for q in queries:
        expr = expand(q.expr)
        result, error = run_waiting_for_late_series(stack.prometheus, expr)
        if result is None:
            problems.append(problem(q, expr, error))
        elif not result:
            problems.append(problem(q, expr, "empty result"))
    report(problems, "dashboard queries fail against the live Prometheus")


def test_every_template_variable_has_values(stack: Stack) -> None:
    queries = variable_queries()
    assert queries, "no template variable queries found"
    problems = []
    for q in queries:
        text = expand(q.expr)
        values, error = variable_values(stack.prometheus, text)
        if values is None:
            problems.append(problem(q, text, error))
        elif not values:
            problems.append(problem(q, text, "no values"))
    report(problems, "template variables have no values")


def test_recording_rules_return_data_and_are_recorded(stack: Stack) -> None:
    recording = [(file, rule) for file, rule in rules() if "record" in rule]
    assert recording, "no recording rules found"
    problems = []
    for file, rule in recording:
        q = rule_query(file, rule)
        result, error = run(stack.prometheus, q.expr)
        if result is None:
            problems.append(problem(q, q.expr, error))
            continue
        if not result:
            problems.append(problem(q, q.expr, "empty result"))
        recorded, _ = run(stack.prometheus, rule["record"])
        if not recorded:
            problems.append(problem(q, rule["record"], "no recorded series"))
    report(problems, "recording rules fail against the live Prometheus")


def test_alert_expressions_parse_and_their_metrics_have_data(stack: Stack) -> None:
    alerts = [(file, rule) for file, rule in rules() if "alert" in rule]
    assert alerts, "no alerts found"
    problems = []
    for file, rule in alerts:
        q = rule_query(file, rule)
        result, error = run(stack.prometheus, q.expr)
        if result is None:
            problems.append(problem(q, q.expr, error))
            continue
        names = metric_names(q.expr)
        if not names:
            problems.append(problem(q, q.expr, "selects no metric this test recognises"))
        for name in sorted(names):
            # A recorded series carries the labels its rule keeps: job, or none at all
            # (a threshold held in a rule as vector(N)).
            selector = name if name in recorded_names() else f'{name}{{job="{JOB}"}}'
            if name in LATE_SERIES:
                series, _ = run_waiting_for_late_series(stack.prometheus, selector)
            else:
                series, _ = run(stack.prometheus, selector)
            if not series:
                problems.append(problem(q, q.expr, f"{name} has no data"))
    report(problems, "alerts fail against the live Prometheus")


def test_every_metric_the_kit_uses_is_exported(stack: Stack) -> None:
    _, body = get(f"{stack.exporter}/metrics")
    exported = exported_names(body.decode())
    recorded = recorded_names()
    problems = []
    for q in all_kit_queries():
        for name in sorted(metric_names(q.expr)):
            if name in recorded or _SCRAPE_METRICS.match(name):
                continue
            if base_name(name) not in exported:
                problems.append(problem(q, q.expr, f"{name} is not in the exporter's /metrics"))
    report(problems, "kit queries use metrics the exporter does not export")


def test_rule_groups_load_and_evaluate_without_errors(stack: Stack) -> None:
    expected = {
        group["name"]: len(group["rules"])
        for path in RULE_FILES
        for group in yaml.safe_load(path.read_text())["groups"]
    }

    def loaded() -> list[dict[str, Any]]:
        groups: list[dict[str, Any]] = api(stack.prometheus, "/api/v1/rules")["data"]["groups"]
        return groups

    def all_evaluated() -> bool:
        return all(rule["health"] != "unknown" for g in loaded() for rule in g["rules"])

    wait_for(all_evaluated, timeout=10)
    groups = loaded()
    assert {g["name"]: len(g["rules"]) for g in groups} == expected
    unhealthy = [
        f"{g['file']} {g['name']} {rule['name']}: {rule['health']} {rule.get('lastError', '')}"
        for g in groups
        for rule in g["rules"]
        if rule["health"] != "ok"
    ]
    assert not unhealthy, "rules fail to evaluate:\n" + "\n".join(unhealthy)


def test_panel_legends_and_table_columns_name_labels_the_results_have(stack: Stack) -> None:
    """A legend's {{label}} or a table's renamed column that no series carries shows blank."""
    problems = []
    for name, dashboard in dashboards():
        for panel in panels(dashboard.get("panels", [])):
            columns = table_columns(panel)
            for target in panel.get("targets", []):
                where = f"dashboard {name} panel {panel.get('title')!r} ({target.get('refId')})"
                result, _ = run(stack.prometheus, expand(target.get("expr", "")))
                if not result:
                    continue  # reported by test_every_dashboard_query_parses_and_returns_data
                metrics = [series["metric"] for series in result]
                legend = target.get("legendFormat", "")
                problems.extend(f"{where}: {p}" for p in naming_problems(legend, columns, metrics))
    report(problems, "panels name labels their queries do not return")


def naming_problems(legend: str, columns: set[str], metrics: list[dict[str, str]]) -> list[str]:
    """Legend labels some series lack, and table columns no series has."""
    problems = [
        f"legend label {label!r} missing from a series"
        for label in re.findall(r"\{\{\s*(\w+)\s*\}\}", legend)
        if any(label not in metric for metric in metrics)
    ]
    problems.extend(
        f"table column {column!r} is in no series"
        for column in sorted(columns)
        if not any(column in metric for metric in metrics)
    )
    return problems


def test_naming_problems_reports_missing_labels() -> None:
    metrics = [{"account_id": "1", "status": "ACTIVE"}, {"account_id": "2"}]
    assert naming_problems("{{account_id}}", {"status"}, metrics) == []
    assert naming_problems("{{ status }}", set(), metrics) == [
        "legend label 'status' missing from a series"
    ]
    assert naming_problems("__auto", {"member_status"}, metrics) == [
        "table column 'member_status' is in no series"
    ]


def table_columns(panel: dict[str, Any]) -> set[str]:
    """Label columns an organize transformation renames (the value and time columns aside)."""
    columns: set[str] = set()
    for transformation in panel.get("transformations", []):
        if transformation.get("id") == "organize":
            columns |= set(transformation.get("options", {}).get("renameByName", {}))
    return {c for c in columns if c not in {"Time", "Value", "__name__"} and " #" not in c}


# --- the collectors beyond collaborations -----------------------------------------------
#
# These need a demo that enables every collector, polls each at --demo.poll-interval and
# whose world has memberships in every status, collaborations with several members, a
# member who leaves now and then and a change request that is pending and then settled.

COLLECTORS = ("collaborations", "memberships", "members", "change_requests")
MEMBERSHIP_STATUSES = frozenset({"ACTIVE", "REMOVED", "COLLABORATION_DELETED"})
MEMBER_STATUSES = frozenset({"INVITED", "ACTIVE", "LEFT", "REMOVED"})
# Seconds to wait for the demo world to show an event (a departure, a settled request);
# the world changes every 20 seconds.
EVENT_TIMEOUT = 60.0
LOOKBACK = "10m"  # longer than any test run: "at any time since the stack started"


def series(base: str, expr: str) -> list[dict[str, Any]]:
    result, error = run(base, expr)
    assert result is not None, f"{expr}: {error}"
    return result


def labels_of(base: str, expr: str) -> list[dict[str, str]]:
    return [s["metric"] for s in series(base, expr)]


def eventually(base: str, expr: str, what: str) -> list[dict[str, Any]]:
    """The series ``expr`` has had at any time since start, waiting up to EVENT_TIMEOUT."""
    ever = f"max_over_time(({expr})[{LOOKBACK}:1s])"
    deadline = time.monotonic() + EVENT_TIMEOUT
    while not (found := series(base, ever)):
        if time.monotonic() > deadline:
            raise AssertionError(f"the demo never showed {what} in {EVENT_TIMEOUT:g}s: {ever}")
        time.sleep(1)
    return found


def alert_expr(name: str) -> str:
    [rule] = [rule for _, rule in rules() if rule.get("alert") == name]
    return str(rule["expr"])


def shortened(expr: str, old: str, new: str) -> str:
    """``expr`` with a window or threshold a short test can reach; it must be there to replace."""
    assert old in expr, f"{old!r} is no longer in {expr!r}: update this test"
    return expr.replace(old, new)


def panel_expr(title: str) -> str:
    [expr] = [q.expr for q in panel_queries() if f"panel {title!r}" in q.where]
    return expr


@pytest.fixture(scope="module")
def collectors(stack: Stack) -> Stack:
    """The stack once every collector of every target has polled a few times."""
    expr = f'min by (collector) (cleanrooms_collector_polls_total{{job="{JOB}"}})'

    def polled() -> dict[str, float]:
        return {
            s["metric"]["collector"]: float(s["value"][1]) for s in series(stack.prometheus, expr)
        }

    deadline = time.monotonic() + EVENT_TIMEOUT
    while any(polled().get(c, 0) < MIN_POLLS for c in COLLECTORS):
        if time.monotonic() > deadline:
            raise AssertionError(
                f"every collector should have polled {MIN_POLLS}+ times: {polled()} "
                "(the demo enables every collector at --demo.poll-interval)"
            )
        time.sleep(1)
    return stack


def test_every_collector_reports_health_for_every_target(collectors: Stack) -> None:
    base = collectors.prometheus
    up = labels_of(base, f'cleanrooms_target_up{{job="{JOB}"}}')
    targets = {(m["account_id"], m["region"]) for m in up}
    assert targets
    for collector in COLLECTORS:
        selector = f'{{job="{JOB}",collector="{collector}"}}'
        for metric in ("up", "stale", "last_success_timestamp_seconds", "polls_total"):
            found = labels_of(base, f"cleanrooms_collector_{metric}{selector}")
            assert {(m["account_id"], m["region"]) for m in found} == targets, (collector, metric)
        assert series(base, f"cleanrooms_collector_stale{selector} == 1") == [], collector


def test_memberships_in_every_status_agree_with_the_table(collectors: Stack) -> None:
    base = collectors.prometheus
    statuses: dict[tuple[str, str], set[str]] = {}
    for m in labels_of(base, f'cleanrooms_memberships{{job="{JOB}"}}'):
        statuses.setdefault((m["account_id"], m["region"]), set()).add(m["status"])
    assert statuses
    assert all(s >= MEMBERSHIP_STATUSES for s in statuses.values()), statuses
    # Demo data: at least one membership in each status, over all targets.
    present = labels_of(base, f'sum by (status) (cleanrooms_memberships{{job="{JOB}"}}) > 0')
    assert {m["status"] for m in present} >= MEMBERSHIP_STATUSES

    rows = labels_of(base, f'cleanrooms_membership_info{{job="{JOB}"}}')
    assert rows
    for row in rows:
        assert row["status"] in MEMBERSHIP_STATUSES, row
        assert row["query_compute_payer"] in {"true", "false"}, row
        assert all(row.get(label) for label in ("membership_id", "collaboration_id")), row
        assert row.get("collaboration_name"), row
    # The status counts and the table come from one poll: they agree at any instant.
    on = "on (job, instance, account_id, region, status)"
    rows_by_status = (
        "count by (job, instance, account_id, region, status) "
        f'(cleanrooms_membership_info{{job="{JOB}"}})'
    )
    counts = f'cleanrooms_memberships{{job="{JOB}"}}'
    assert series(base, f"{rows_by_status} != {on} {counts}") == []
    assert series(base, f"{counts} > 0 unless {on} {rows_by_status}") == []


def test_members_of_every_collaboration_in_every_status(collectors: Stack) -> None:
    base = collectors.prometheus
    statuses: dict[tuple[str, str, str], set[str]] = {}
    for m in labels_of(base, f'cleanrooms_collaboration_members{{job="{JOB}"}}'):
        key = (m["account_id"], m["region"], m["collaboration_id"])
        statuses.setdefault(key, set()).add(m["status"])
    assert statuses
    assert all(s >= MEMBER_STATUSES for s in statuses.values()), statuses
    # Demo data: a collaboration with several active members.
    crowded = f'cleanrooms_collaboration_members{{job="{JOB}",status="ACTIVE"}} >= 2'
    assert series(base, crowded)


def test_a_member_leaving_shows_in_the_panel_and_the_alert(collectors: Stack) -> None:
    base = collectors.prometheus
    # Demo data: a member leaves or is removed while the test runs.
    panel = expand(panel_expr("Members who left or were removed"))
    eventually(base, f"({panel}) > 0", "a member leaving, on the dashboard")
    alert = shortened(alert_expr("CleanRoomsCollaborationMemberLeft"), "offset 15m", "offset 5s")
    fired = eventually(base, alert, "CleanRoomsCollaborationMemberLeft firing")
    assert {s["metric"]["status"] for s in fired} <= {"LEFT", "REMOVED"}


def test_a_change_request_is_pending_then_settled(collectors: Stack) -> None:
    base = collectors.prometheus
    pending = f'cleanrooms_change_requests_pending{{job="{JOB}"}}'
    age = f'cleanrooms_change_request_oldest_pending_age_seconds{{job="{JOB}"}}'
    # Demo data: a change request that is pending and later approved.
    eventually(base, f"{pending} > 0", "a pending change request")
    settled = f"{pending} < {pending} offset 3s"
    eventually(base, settled, "a pending change request being settled")
    alert = shortened(alert_expr("CleanRoomsChangeRequestPending"), "24 * 3600", "0")
    eventually(base, alert, "CleanRoomsChangeRequestPending's expression (threshold 0) matching")
    # The count and the age come from one poll: never a count without an age, or the reverse.
    on = "on (job, instance, account_id, region, collaboration_id)"
    for expr in (f"{pending} > 0 and {on} {age} == 0", f"{pending} == 0 and {on} {age} > 0"):
        assert series(base, f"max_over_time(({expr})[{LOOKBACK}:1s])") == [], expr


# --- Clean Rooms ML and intermediate tables -----------------------------------------------
#
# The demo seeds, per target, an audience model created 9 days ago and one 2 days ago; per
# membership (the first two ACTIVE ones of each target), trained models, inference jobs and
# input channels, one inference job in progress for 8 hours, and intermediate tables: one
# populated 5 days ago that expires in 2 days, one disallowed by its data provider.

ML_COLLECTORS = (
    "ml_trained_models",
    "ml_inference_jobs",
    "ml_input_channels",
    "ml_audiences",
    "intermediate_tables",
)
# Every status each family exports, from the collectors themselves (their unit tests
# check them against botocore's model): here, that the demo's series carry them all.
ML_STATUSES = {
    kind.counts_name: frozenset(kind.rules.statuses)
    for kind in (ml_trained_models.KIND, intermediate_tables.KIND)
}


@pytest.fixture(scope="module")
def ml_collectors(stack: Stack) -> Stack:
    """The stack once the ML and intermediate table collectors of every target have polled."""
    expr = f'min by (collector) (cleanrooms_collector_polls_total{{job="{JOB}"}})'

    def polled() -> dict[str, float]:
        return {
            s["metric"]["collector"]: float(s["value"][1]) for s in series(stack.prometheus, expr)
        }

    deadline = time.monotonic() + EVENT_TIMEOUT
    while any(polled().get(c, 0) < MIN_POLLS for c in ML_COLLECTORS):
        if time.monotonic() > deadline:
            raise AssertionError(
                f"the ML collectors should have polled {MIN_POLLS}+ times: {polled()}"
            )
        time.sleep(1)
    return stack


def test_ml_and_table_collectors_report_health_and_every_status(ml_collectors: Stack) -> None:
    base = ml_collectors.prometheus
    up = labels_of(base, f'cleanrooms_target_up{{job="{JOB}"}}')
    targets = {(m["account_id"], m["region"]) for m in up}
    assert targets
    # The demo throttles a share of the calls, so a poll may fail now and then: health is
    # there for every target, and no collector's data has gone stale.
    for collector in ML_COLLECTORS:
        selector = f'{{job="{JOB}",collector="{collector}"}}'
        for metric in ("up", "stale", "last_success_timestamp_seconds", "polls_total"):
            found = labels_of(base, f"cleanrooms_collector_{metric}{selector}")
            assert {(m["account_id"], m["region"]) for m in found} == targets, (collector, metric)
        assert series(base, f"cleanrooms_collector_stale{selector} == 1") == [], collector
    for metric, expected in ML_STATUSES.items():
        statuses: dict[str, set[str]] = {}
        for m in labels_of(base, f'{metric}{{job="{JOB}"}}'):
            statuses.setdefault(m["membership_id"], set()).add(m["status"])
        assert statuses, metric
        assert all(found == expected for found in statuses.values()), (metric, statuses)


def test_the_demo_ml_problems_fire_their_alerts(ml_collectors: Stack) -> None:
    """Each alert's expression (its `for:` aside) matches what the demo seeded, and only that."""
    base = ml_collectors.prometheus
    # The inference job in progress for 8 hours; the trainings in progress are minutes old.
    stuck = labels_of(base, alert_expr("CleanRoomsMLJobStuck"))
    assert stuck, "the demo's 8-hour inference job should be stuck"
    assert {m["kind"] for m in stuck} == {"inference_job"}, stuck
    # The 9-day-old audience model of every target, not the 2-day-old one.
    stale = labels_of(base, alert_expr("CleanRoomsAudienceModelStale"))
    targets = {(m["account_id"], m["region"]) for m in stale}
    assert targets == {
        (m["account_id"], m["region"])
        for m in labels_of(base, f'cleanrooms_collector_up{{job="{JOB}",collector="ml_audiences"}}')
    }
    assert {m["audience_model"] for m in stale} == {"shoppers"}, stale
    # The disallowed table of each seeded membership.
    disallowed = labels_of(base, alert_expr("CleanRoomsIntermediateTableDisallowed"))
    assert disallowed
    assert {m["status"] for m in disallowed} == {"DISALLOWED_BY_DATA_PROVIDER"}
    # The table expiring in 2 days; the others keep their data for a week or more.
    expiring = labels_of(base, alert_expr("CleanRoomsIntermediateTableExpiring"))
    assert expiring
    assert {m["name"] for m in expiring} == {"expiring_soon"}, expiring
    assert {m["membership_id"] for m in expiring} == {m["membership_id"] for m in disallowed}


def test_the_ml_dashboard_shows_the_demo_problems(ml_collectors: Stack) -> None:
    base = ml_collectors.prometheus
    # The expiring table comes first, with about 2 days left.
    soonest = series(base, expand(panel_expr("Tables expiring soonest")))
    assert soonest
    first = soonest[0]
    assert first["metric"]["name"] == "expiring_soon", soonest
    assert first["metric"].get("collaboration_name"), first
    assert 1.5 * 86400 < float(first["value"][1]) < 2 * 86400, first
    # The stuck inference job, above the 6-hour line, named by its collaboration.
    oldest = series(base, expand(panel_expr("Oldest in progress")))
    jobs = [s for s in oldest if s["metric"]["kind"] == "inference job"]
    assert jobs, oldest
    assert all(float(s["value"][1]) > 6 * 3600 for s in jobs), jobs
    assert all(s["metric"].get("collaboration_name") for s in oldest), oldest
    # Stale and fresh audience models on either side of the 7-day line.
    ages = series(base, expand(panel_expr("Audience model age vs 7 days")))
    week = 7 * 86400
    assert {s["metric"]["audience_model"] for s in ages if float(s["value"][1]) > week} == {
        "shoppers"
    }
    assert {s["metric"]["audience_model"] for s in ages if float(s["value"][1]) < week} == {
        "subscribers"
    }
    assert scalar(base, expand(panel_expr("Tables expiring within 3 days"))) >= 1
    assert scalar(base, expand(panel_expr("Tables disallowed by a data provider"))) >= 1
