"""Lint the Grafana dashboards and provisioning; hold them and the rules to the metric contract."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.paths import ROOT

DASHBOARD_DIR = ROOT / "grafana" / "dashboards"
PROVISIONING_DIR = ROOT / "grafana" / "provisioning"
RULE_FILES = (ROOT / "prometheus" / "rules.yaml", ROOT / "prometheus" / "alerts.yaml")
MONITORING_DOC = ROOT / "docs" / "monitoring.md"

DASHBOARDS_MOUNT = "/var/lib/grafana/dashboards"
PROVISIONING_MOUNT = "/etc/grafana/provisioning"

# The metric contract: every series the exporter exposes, with its type and
# labels (not counting job and instance, which Prometheus adds). Dashboards
# and rules may only use these.
TARGET = frozenset({"account_id", "region"})
COLLECTOR = TARGET | {"collector"}
CONTRACT: dict[str, tuple[str, frozenset[str]]] = {
    "cleanrooms_collaborations": ("gauge", TARGET | {"member_status"}),
    "cleanrooms_collaborations_by_analytics_engine": (
        "gauge",
        TARGET | {"member_status", "analytics_engine"},
    ),
    "cleanrooms_collaboration_info": (
        "gauge",
        TARGET
        | {
            "collaboration_id",
            "collaboration_name",
            "creator_account_id",
            "creator_display_name",
            "member_status",
            "membership_id",
            "analytics_engine",
        },
    ),
    "cleanrooms_collaboration_created_timestamp_seconds": (
        "gauge",
        TARGET | {"collaboration_id", "member_status"},
    ),
    "cleanrooms_collaboration_updated_timestamp_seconds": (
        "gauge",
        TARGET | {"collaboration_id", "member_status"},
    ),
    "cleanrooms_pending_invitations_oldest_age_seconds": ("gauge", TARGET),
    "cleanrooms_untrusted_pending_invitations": ("gauge", TARGET),
    "cleanrooms_account_info": ("gauge", frozenset({"account_id", "account_name"})),
    "cleanrooms_target_up": ("gauge", TARGET),
    "cleanrooms_target_last_success_timestamp_seconds": ("gauge", TARGET),
    "cleanrooms_target_poll_duration_seconds": ("gauge", TARGET),
    "cleanrooms_target_stale": ("gauge", TARGET),
    "cleanrooms_target_invalid_collaborations": ("gauge", TARGET),
    "cleanrooms_target_consecutive_failures": ("gauge", TARGET),
    "cleanrooms_target_last_error_info": ("gauge", TARGET | {"operation", "error_code"}),
    "cleanrooms_target_polls_total": ("counter", TARGET),
    "cleanrooms_target_poll_failures_total": ("counter", TARGET),
    "cleanrooms_api_requests_total": ("counter", TARGET | {"operation"}),
    "cleanrooms_api_errors_total": ("counter", TARGET | {"operation", "error_code"}),
    "cleanrooms_api_throttles_total": ("counter", TARGET | {"operation"}),
    "cleanrooms_api_request_duration_seconds": ("histogram", frozenset({"operation"})),
    "cleanrooms_exporter_build_info": (
        "gauge",
        frozenset({"version", "python_version", "boto3_version"}),
    ),
    "cleanrooms_exporter_targets": ("gauge", frozenset()),
    "cleanrooms_exporter_config_last_reload_successful": ("gauge", frozenset()),
    "cleanrooms_exporter_config_last_reload_success_timestamp_seconds": ("gauge", frozenset()),
    "cleanrooms_exporter_poll_lag_ratio": ("histogram", frozenset({"collector"})),
    "cleanrooms_exporter_series": ("gauge", frozenset({"collector"})),
    # The collectors beyond collaborations: memberships, members, change_requests.
    "cleanrooms_memberships": ("gauge", TARGET | {"status"}),
    "cleanrooms_membership_info": (
        "gauge",
        TARGET
        | {
            "membership_id",
            "collaboration_id",
            "collaboration_name",
            "status",
            "query_compute_payer",
        },
    ),
    "cleanrooms_collaboration_members": ("gauge", TARGET | {"collaboration_id", "status"}),
    "cleanrooms_change_requests_pending": ("gauge", TARGET | {"collaboration_id"}),
    "cleanrooms_change_request_oldest_pending_age_seconds": (
        "gauge",
        TARGET | {"collaboration_id"},
    ),
    # Health of each collector of each target.
    "cleanrooms_collector_up": ("gauge", COLLECTOR),
    "cleanrooms_collector_last_success_timestamp_seconds": ("gauge", COLLECTOR),
    "cleanrooms_collector_poll_duration_seconds": ("gauge", COLLECTOR),
    "cleanrooms_collector_consecutive_failures": ("gauge", COLLECTOR),
    "cleanrooms_collector_stale": ("gauge", COLLECTOR),
    "cleanrooms_collector_last_error_info": ("gauge", COLLECTOR | {"operation", "error_code"}),
    "cleanrooms_collector_polls_total": ("counter", COLLECTOR),
    "cleanrooms_collector_poll_failures_total": ("counter", COLLECTOR),
}

DATASOURCE_REF = {"type": "prometheus", "uid": "${datasource}"}
FILTER_LABELS = ("job", "instance", "account_id", "region")
SCRAPE_LABELS = frozenset({"job", "instance"})  # added by Prometheus, not the exporter
RATE_FUNCTIONS = frozenset({"rate", "irate", "increase"})
# Rules may also ask whether a counter's series existed over a range (a series that
# appears at its first event, like an error code's, shows that event to no rate()).
PRESENCE_FUNCTIONS = frozenset({"present_over_time"})
DASHBOARD_RANGE = "$__rate_interval"
MIN_SCHEMA_VERSION = 36
UID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")

# The protected_queries, protected_jobs and privacy_budgets collectors.
MEMBERSHIP = TARGET | {"membership_id", "collaboration_id"}
CONTRACT.update(
    {
        "cleanrooms_protected_queries": ("gauge", MEMBERSHIP | {"status"}),
        "cleanrooms_protected_queries_finished_total": ("counter", MEMBERSHIP | {"status"}),
        "cleanrooms_protected_query_oldest_running_age_seconds": ("gauge", MEMBERSHIP),
        "cleanrooms_protected_jobs": ("gauge", MEMBERSHIP | {"status"}),
        "cleanrooms_protected_jobs_finished_total": ("counter", MEMBERSHIP | {"status"}),
        "cleanrooms_protected_job_oldest_running_age_seconds": ("gauge", MEMBERSHIP),
        "cleanrooms_privacy_budget_remaining_queries": ("gauge", MEMBERSHIP | {"aggregation"}),
        "cleanrooms_privacy_budget_max_queries": ("gauge", MEMBERSHIP | {"aggregation"}),
        "cleanrooms_privacy_budget_epsilon": ("gauge", MEMBERSHIP),
        "cleanrooms_access_budget_remaining": (
            "gauge",
            MEMBERSHIP | {"resource_arn", "budget_type"},
        ),
        "cleanrooms_access_budget_limit": ("gauge", MEMBERSHIP | {"resource_arn", "budget_type"}),
        "cleanrooms_access_budget_aggregate_remaining": ("gauge", MEMBERSHIP | {"resource_arn"}),
        "cleanrooms_access_budget_end_timestamp_seconds": (
            "gauge",
            MEMBERSHIP | {"resource_arn", "budget_type"},
        ),
        "cleanrooms_access_budget_auto_refresh": (
            "gauge",
            MEMBERSHIP | {"resource_arn", "budget_type"},
        ),
    }
)

# Cost and capacity: one Get per finished analysis (billed CRPU-hours, durations, error
# codes, the backlog of Gets), who pays per membership, and the quota limits per target.
CONTRACT.update(
    {
        "cleanrooms_protected_query_billed_crpu_seconds_total": (
            "counter",
            MEMBERSHIP | {"status"},
        ),
        "cleanrooms_protected_job_billed_crpu_seconds_total": ("counter", MEMBERSHIP | {"status"}),
        "cleanrooms_protected_query_duration_seconds": ("histogram", TARGET | {"status"}),
        "cleanrooms_protected_job_duration_seconds": ("histogram", TARGET | {"status"}),
        "cleanrooms_protected_query_errors_total": (
            "counter",
            MEMBERSHIP | {"error_code", "retryable"},
        ),
        "cleanrooms_protected_job_errors_total": (
            "counter",
            MEMBERSHIP | {"error_code", "retryable"},
        ),
        "cleanrooms_analysis_details_backlog": ("gauge", MEMBERSHIP | {"collector"}),
        "cleanrooms_analysis_details_dropped_total": (
            "counter",
            MEMBERSHIP | {"collector", "reason"},
        ),
        "cleanrooms_membership_payment_info": (
            "gauge",
            MEMBERSHIP | {"query_compute", "job_compute", "ml_training", "ml_inference"},
        ),
        "cleanrooms_quota_limit": ("gauge", TARGET | {"quota", "source"}),
        "cleanrooms_service_quota": ("gauge", TARGET | {"quota_code", "quota_name"}),
    }
)

# Clean Rooms ML (ml_trained_models, ml_inference_jobs, ml_input_channels per membership;
# ml_audiences per target) and intermediate tables: counts by status, failures counted
# once, the oldest in progress, audience model ages and table expiries.
CONTRACT.update(
    {
        "cleanrooms_ml_trained_models": ("gauge", MEMBERSHIP | {"status"}),
        "cleanrooms_ml_trained_models_failed_total": ("counter", MEMBERSHIP),
        "cleanrooms_ml_trained_model_oldest_in_progress_age_seconds": ("gauge", MEMBERSHIP),
        "cleanrooms_ml_inference_jobs": ("gauge", MEMBERSHIP | {"status"}),
        "cleanrooms_ml_inference_jobs_failed_total": ("counter", MEMBERSHIP),
        "cleanrooms_ml_inference_job_oldest_in_progress_age_seconds": ("gauge", MEMBERSHIP),
        "cleanrooms_ml_inference_job_publications": (
            "gauge",
            MEMBERSHIP | {"publication", "status"},
        ),
        "cleanrooms_ml_inference_job_publish_failures_total": (
            "counter",
            MEMBERSHIP | {"publication"},
        ),
        "cleanrooms_ml_input_channels": ("gauge", MEMBERSHIP | {"status"}),
        "cleanrooms_ml_input_channels_failed_total": ("counter", MEMBERSHIP),
        "cleanrooms_ml_input_channel_oldest_in_progress_age_seconds": ("gauge", MEMBERSHIP),
        "cleanrooms_ml_audience_models": ("gauge", TARGET | {"status"}),
        "cleanrooms_ml_configured_audience_models": ("gauge", TARGET | {"status"}),
        "cleanrooms_ml_audience_generation_jobs": ("gauge", TARGET | {"status"}),
        "cleanrooms_ml_audience_models_failed_total": ("counter", TARGET),
        "cleanrooms_ml_audience_generation_jobs_failed_total": ("counter", TARGET),
        "cleanrooms_ml_audience_model_age_seconds": ("gauge", TARGET | {"audience_model"}),
        "cleanrooms_intermediate_tables": ("gauge", MEMBERSHIP | {"status"}),
        "cleanrooms_intermediate_tables_failed_total": ("counter", MEMBERSHIP),
        "cleanrooms_intermediate_table_retention_expiry_timestamp_seconds": (
            "gauge",
            MEMBERSHIP | {"intermediate_table_id", "name"},
        ),
    }
)

# Clean Rooms ML seen collaboration-wide (every member's work, by creator, payer and this
# account's part), exports (audience per target, trained model per membership) and
# analysis log exports.
SHARED = MEMBERSHIP | {"creator_account_id", "payer_account_id", "account_role"}
CONTRACT.update(
    {
        **{
            f"cleanrooms_ml_collaboration_{kind}s": ("gauge", SHARED | {"status"})
            for kind in ("trained_model", "inference_job", "input_channel")
        },
        **{
            f"cleanrooms_ml_collaboration_{kind}s_failed_total": (
                "counter",
                MEMBERSHIP | {"account_role"},
            )
            for kind in ("trained_model", "inference_job", "input_channel")
        },
        **{
            f"cleanrooms_ml_collaboration_{kind}_oldest_in_progress_age_seconds": (
                "gauge",
                SHARED,
            )
            for kind in ("trained_model", "inference_job", "input_channel")
        },
        "cleanrooms_ml_audience_export_jobs": ("gauge", TARGET | {"status"}),
        "cleanrooms_ml_audience_export_jobs_failed_total": ("counter", TARGET),
        "cleanrooms_ml_audience_export_jobs_failed_by_reason_total": (
            "counter",
            TARGET | {"reason"},
        ),
        "cleanrooms_ml_audience_export_job_oldest_in_progress_age_seconds": ("gauge", TARGET),
        "cleanrooms_ml_model_export_jobs": ("gauge", MEMBERSHIP | {"account_role", "status"}),
        "cleanrooms_ml_model_export_jobs_failed_total": ("counter", MEMBERSHIP | {"account_role"}),
        "cleanrooms_ml_model_export_jobs_failed_by_reason_total": (
            "counter",
            MEMBERSHIP | {"reason"},
        ),
        "cleanrooms_ml_model_export_backlog": ("gauge", MEMBERSHIP),
        "cleanrooms_analysis_log_exports": ("gauge", MEMBERSHIP | {"status"}),
        "cleanrooms_analysis_log_exports_failed_total": ("counter", MEMBERSHIP),
        "cleanrooms_analysis_log_export_oldest_in_progress_age_seconds": ("gauge", MEMBERSHIP),
        "cleanrooms_analysis_log_export_errors_total": ("counter", MEMBERSHIP | {"error_code"}),
        "cleanrooms_analysis_log_export_details_backlog": ("gauge", MEMBERSHIP),
        "cleanrooms_analysis_log_export_details_dropped_total": (
            "counter",
            MEMBERSHIP | {"reason"},
        ),
    }
)


# Schemas (tables as a collaboration sees them): by status and type, each NOT_READY reason,
# the oldest NOT_READY, BatchGetSchema's errors.
CONTRACT.update(
    {
        "cleanrooms_schemas": ("gauge", MEMBERSHIP | {"status"}),
        "cleanrooms_schemas_by_type": ("gauge", MEMBERSHIP | {"type"}),
        "cleanrooms_schema_not_ready_reason": (
            "gauge",
            MEMBERSHIP | {"schema_name", "analysis_rule_type", "reason_code"},
        ),
        "cleanrooms_schema_oldest_not_ready_age_seconds": ("gauge", MEMBERSHIP),
        "cleanrooms_schema_get_errors": ("gauge", MEMBERSHIP | {"error_code"}),
    }
)


def exposed_series() -> dict[str, tuple[bool, frozenset[str]]]:
    """Series name -> (is a counter-like series, labels), expanding histograms."""
    series: dict[str, tuple[bool, frozenset[str]]] = {}
    for name, (kind, labels) in CONTRACT.items():
        if kind == "histogram":
            series[f"{name}_bucket"] = (True, labels | {"le"})
            series[f"{name}_sum"] = (True, labels)
            series[f"{name}_count"] = (True, labels)
        else:
            series[name] = (kind == "counter", labels)
    return series


SERIES = exposed_series()


# --- a small PromQL scanner -------------------------------------------------

_IDENT_START = re.compile(r"[A-Za-z_:]")
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_MATCHER = re.compile(
    r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"
    r"(\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|`[^`]*`)\s*(?:,|$)"
)


@dataclass(frozen=True)
class Selector:
    """One `metric{matchers}[range]` occurrence in a PromQL expression."""

    metric: str
    matchers: dict[str, tuple[str, str]] | None
    range: str | None
    function: str | None


@dataclass
class Scan:
    """What a PromQL expression refers to."""

    selectors: list[Selector] = field(default_factory=list)
    recorded: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)


def _skip_string(expr: str, i: int) -> int:
    quote = expr[i]
    i += 1
    while i < len(expr) and expr[i] != quote:
        i += 2 if expr[i] == "\\" and quote != "`" else 1
    return i + 1


def _skip_to(expr: str, i: int, closing: str) -> int:
    """Index just past the `closing` bracket that ends the block opened at i."""
    i += 1
    while i < len(expr) and expr[i] != closing:
        i = _skip_string(expr, i) if expr[i] in "\"'`" else i + 1
    return i + 1


def _next_char(expr: str, i: int) -> int:
    while i < len(expr) and expr[i].isspace():
        i += 1
    return i


def _parse_matchers(body: str) -> dict[str, tuple[str, str]] | None:
    matchers: dict[str, tuple[str, str]] = {}
    pos = 0
    body = body.strip()
    while pos < len(body):
        m = _MATCHER.match(body, pos)
        if m is None:
            return None
        matchers[m.group(1)] = (m.group(2), m.group(3)[1:-1])
        pos = m.end()
    return matchers


def scan(expr: str) -> Scan:
    """Find the cleanrooms_ selectors and cleanrooms: recording rules in expr."""
    result = Scan()
    stack: list[str] = []
    i = 0
    while i < len(expr):
        c = expr[i]
        if c in "\"'`":
            i = _skip_string(expr, i)
        elif c == "(":
            stack.append("")
            i += 1
        elif c == ")":
            if stack:
                stack.pop()
            i += 1
        elif c == "[":
            i = _skip_to(expr, i, "]")
        elif c == "{":
            result.problems.append(f"selector without a metric name in {expr!r}")
            i = _skip_to(expr, i, "}")
        elif c.isdigit() or c == ".":
            while i < len(expr) and (expr[i].isalnum() or expr[i] in "._"):
                i += 1
        elif _IDENT_START.match(c):
            i = _scan_identifier(expr, i, stack, result)
        else:
            i += 1
    return result


def _scan_identifier(expr: str, i: int, stack: list[str], result: Scan) -> int:
    m = _IDENT.match(expr, i)
    assert m is not None
    name = m.group(0)
    j = _next_char(expr, m.end())
    if j < len(expr) and expr[j] == "(":
        stack.append(name)
        return j + 1
    if name.startswith("cleanrooms:"):
        result.recorded.add(name)
    matchers: dict[str, tuple[str, str]] | None = None
    end = m.end()
    if j < len(expr) and expr[j] == "{":
        end = _skip_to(expr, j, "}")
        matchers = _parse_matchers(expr[j + 1 : end - 1])
        if matchers is None:
            result.problems.append(f"{name}: cannot parse matchers {expr[j:end]!r}")
    if not name.startswith("cleanrooms_"):
        return end
    k = _next_char(expr, end)
    range_text = None
    if k < len(expr) and expr[k] == "[":
        stop = _skip_to(expr, k, "]")
        range_text = expr[k + 1 : stop - 1].strip()
        end = stop
    function = stack[-1] if stack else None
    result.selectors.append(Selector(name, matchers, range_text, function))
    return end


# --- expression checks -------------------------------------------------------


def expr_problems(expr: str, *, dashboard: bool) -> list[str]:
    """Every convention an expression breaks; dashboard=False for rule files."""
    found = scan(expr)
    problems = list(found.problems)
    for sel in found.selectors:
        if sel.metric not in SERIES:
            problems.append(f"{sel.metric} is not in the metric contract")
            continue
        is_counter, labels = SERIES[sel.metric]
        problems.extend(_label_problems(sel, labels))
        if is_counter:
            problems.extend(_counter_problems(sel, dashboard=dashboard))
        if dashboard:
            problems.extend(_filter_problems(sel, labels))
    for labels in re.findall(r"\bby\s*\(([^)]*)\)", expr):
        if "instance" in {label.strip() for label in labels.split(",")}:
            problems.append(f"aggregates by instance: {expr!r}")
    return problems


def _label_problems(sel: Selector, labels: frozenset[str]) -> list[str]:
    """Matchers on labels the series does not have (e.g. member_status for status)."""
    unknown = set(sel.matchers or {}) - labels - SCRAPE_LABELS
    return [f"{sel.metric} has no label {name!r}" for name in sorted(unknown)]


def _counter_problems(sel: Selector, *, dashboard: bool) -> list[str]:
    if not dashboard and sel.function in PRESENCE_FUNCTIONS and sel.range is not None:
        return []
    if sel.function not in RATE_FUNCTIONS or sel.range is None:
        return [f"{sel.metric} must be used inside rate(), irate() or increase() with a range"]
    if dashboard and sel.range != DASHBOARD_RANGE:
        return [f"{sel.metric} must use [{DASHBOARD_RANGE}], not [{sel.range}]"]
    return []


def _filter_problems(sel: Selector, labels: frozenset[str]) -> list[str]:
    if not sel.matchers:
        return [f"{sel.metric} has no label matchers"]
    problems = []
    for label in FILTER_LABELS:
        if label not in {"job", "instance"} and label not in labels:
            continue
        got = sel.matchers.get(label)
        if got not in {("=~", f"${label}"), ("=~", f"${{{label}}}")}:
            problems.append(f'{sel.metric} must filter {label}=~"${label}", has {got}')
    return problems


# --- dashboard checks --------------------------------------------------------


def iter_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    for panel in panels:
        yield panel
        yield from iter_panels(panel.get("panels", []))


def meta_problems(dash: dict[str, Any]) -> list[str]:
    """Dashboard-level conventions: uid, id, schema, tags, portability."""
    problems = []
    if not isinstance(dash.get("uid"), str) or not UID_PATTERN.match(dash["uid"]):
        problems.append(f"uid {dash.get('uid')!r} must be a short fixed lowercase string")
    if dash.get("id") is not None and not isinstance(dash.get("id"), int):
        problems.append("id must be null or a fixed integer")
    if not isinstance(dash.get("schemaVersion"), int) or dash["schemaVersion"] < MIN_SCHEMA_VERSION:
        problems.append(f"schemaVersion must be >= {MIN_SCHEMA_VERSION}")
    if dash.get("editable") is not True:
        problems.append("editable must be true")
    if "cleanrooms" not in dash.get("tags", []):
        problems.append("tags must include 'cleanrooms'")
    if not dash.get("title"):
        problems.append("dashboard has no title")
    if "__inputs" in dash:
        problems.append("__inputs makes the dashboard depend on the import dialog")
    ids = [p.get("id") for p in iter_panels(dash.get("panels", []))]
    if len(ids) != len(set(ids)):
        problems.append(f"panel ids are not unique: {ids}")
    return problems


def _variable_query(var: dict[str, Any]) -> str:
    query = var.get("query")
    if isinstance(query, dict):
        return str(query.get("query", ""))
    return str(query or var.get("definition", ""))


def templating_problems(dash: dict[str, Any]) -> list[str]:
    """The datasource variable and the job/instance/account_id/region query variables."""
    variables = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    problems = []
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        problems.append("needs a variable 'datasource' of type datasource, query prometheus")
    for name in FILTER_LABELS:
        var = variables.get(name)
        if var is None:
            problems.append(f"missing template variable {name!r}")
            continue
        query = _variable_query(var)
        if var.get("type") != "query" or var.get("datasource") != DATASOURCE_REF:
            problems.append(f"variable {name!r} must be a query on {DATASOURCE_REF}")
        if not var.get("multi") or not var.get("includeAll"):
            problems.append(f"variable {name!r} must be multi-value with an All option")
        if not re.match(rf"^label_values\(\s*cleanrooms_\w+.*,\s*{name}\s*\)$", query, re.S):
            problems.append(f"variable {name!r} must use label_values(cleanrooms_..., {name})")
        for sel in scan(query).selectors:
            if sel.metric not in SERIES:
                problems.append(f"variable {name!r}: {sel.metric} is not in the metric contract")
    return problems


def panel_problems(panel: dict[str, Any]) -> list[str]:
    """Title, description, unit, datasource and every query of one panel."""
    title = panel.get("title")
    if not title:
        return [f"panel {panel.get('id')} has no title"]
    if panel.get("type") == "row":
        return []
    where = f"panel {title!r}"
    problems = []
    if not panel.get("description"):
        problems.append(f"{where}: no description")
    if not panel.get("fieldConfig", {}).get("defaults", {}).get("unit"):
        problems.append(f"{where}: no unit in fieldConfig.defaults.unit")
    if panel.get("datasource") != DATASOURCE_REF:
        problems.append(f"{where}: datasource must be {DATASOURCE_REF}")
    targets = panel.get("targets", [])
    if not targets:
        problems.append(f"{where}: no targets")
    for target in targets:
        if target.get("datasource") != DATASOURCE_REF:
            problems.append(f"{where} {target.get('refId')}: datasource must be {DATASOURCE_REF}")
        expr = target.get("expr", "")
        if not expr:
            problems.append(f"{where} {target.get('refId')}: empty expr")
        problems.extend(f"{where}: {p}" for p in expr_problems(expr, dashboard=True))
    return problems


def dashboard_problems(dash: dict[str, Any]) -> list[str]:
    """All lint problems of one dashboard."""
    problems = meta_problems(dash) + templating_problems(dash)
    for panel in iter_panels(dash.get("panels", [])):
        problems.extend(panel_problems(panel))
    return problems


# --- the real files ----------------------------------------------------------


def dashboard_paths() -> list[Path]:
    return sorted(DASHBOARD_DIR.glob("*.json"))


def load_rules() -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            rules.extend(group["rules"])
    return rules


def test_there_are_dashboards() -> None:
    names = {p.name for p in dashboard_paths()}
    assert {"cleanrooms-overview.json", "cleanrooms-exporter-health.json"} <= names


@pytest.mark.parametrize("path", dashboard_paths(), ids=lambda p: p.name)
def test_dashboard_follows_conventions(path: Path) -> None:
    dash = json.loads(path.read_text())
    assert dashboard_problems(dash) == []


@pytest.mark.parametrize("path", dashboard_paths(), ids=lambda p: p.name)
def test_dashboard_has_queries_for_cleanrooms_metrics(path: Path) -> None:
    """Guards the lint itself: a scanner that finds nothing would pass everything."""
    dash = json.loads(path.read_text())
    exprs = [t["expr"] for p in iter_panels(dash["panels"]) for t in p.get("targets", [])]
    assert exprs
    assert all(scan(e).selectors for e in exprs)


# Values Grafana would put in place of the variables, so promtool can parse the queries.
GRAFANA_VARIABLES = {
    "$__rate_interval": "4m",
    "$__interval": "1m",
    "$job": ".*",
    "$instance": ".*",
    "$account_id": ".*",
    "$region": ".*",
}


def user_variables(dash: dict[str, Any]) -> dict[str, str]:
    """Values of the textbox and constant variables (e.g. a price): their defaults."""
    values = {}
    for var in dash.get("templating", {}).get("list", []):
        if var.get("type") in {"textbox", "constant"}:
            values[f"${{{var['name']}}}"] = str(var.get("query", ""))
            values[f"${var['name']}"] = str(var.get("query", ""))
    return values


def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        message = "promtool not found on PATH (Debian package: prometheus)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    rules: list[dict[str, str]] = []
    for path in dashboard_paths():
        dash = json.loads(path.read_text())
        variables = {**user_variables(dash), **GRAFANA_VARIABLES}
        for panel in iter_panels(dash["panels"]):
            for target in panel.get("targets", []):
                expr = target["expr"]
                for variable, value in variables.items():
                    expr = expr.replace(variable, value)
                rules.append({"record": f"dashboard:query_{len(rules)}:check", "expr": expr})
    rule_file = tmp_path / "dashboard_queries.yaml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(rule_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_uids_are_unique() -> None:
    uids = [json.loads(p.read_text())["uid"] for p in dashboard_paths()]
    assert len(uids) == len(set(uids))


# A recording rule that only holds a number for users to edit (a threshold).
CONSTANT_RULE = re.compile(r"^\s*vector\(\s*[0-9][0-9.]*\s*\)\s*$")


def test_rules_use_only_contract_metrics_and_defined_recordings() -> None:
    rules = load_rules()
    recorded = {r["record"] for r in rules if "record" in r}
    problems = []
    for rule in rules:
        name = rule.get("alert") or rule.get("record")
        found = scan(rule["expr"])
        constant = "record" in rule and CONSTANT_RULE.match(rule["expr"])
        if not (found.selectors or found.recorded or constant or "up{" in rule["expr"]):
            problems.append(f"{name}: refers to no exporter metric")
        problems.extend(f"{name}: {p}" for p in expr_problems(rule["expr"], dashboard=False))
        problems.extend(f"{name}: {r} is not recorded" for r in found.recorded - recorded)
    assert problems == []


def test_recording_rule_names_follow_convention() -> None:
    names = [r["record"] for r in load_rules() if "record" in r]
    assert names
    for name in names:
        assert re.fullmatch(r"cleanrooms:[a-z0-9_]+:[a-z0-9_]+", name), name


def test_datasource_provisioning() -> None:
    config = yaml.safe_load((PROVISIONING_DIR / "datasources" / "prometheus.yaml").read_text())
    assert config["apiVersion"] == 1
    [ds] = config["datasources"]
    assert ds["type"] == "prometheus"
    assert ds["access"] == "proxy"
    assert re.fullmatch(r"\$\{?PROMETHEUS_URL\}?", ds["url"]), ds["url"]


def test_dashboard_provisioning_points_at_the_mounted_dashboards() -> None:
    config = yaml.safe_load((PROVISIONING_DIR / "dashboards" / "cleanrooms.yaml").read_text())
    assert config["apiVersion"] == 1
    [provider] = config["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == DASHBOARDS_MOUNT


def test_monitoring_doc_shows_the_mounts_and_env() -> None:
    doc = " ".join(MONITORING_DOC.read_text().split())
    assert f"mount `grafana/provisioning` at `{PROVISIONING_MOUNT}`" in doc
    assert f"`grafana/dashboards` at `{DASHBOARDS_MOUNT}`" in doc
    assert "PROMETHEUS_URL" in doc
    # The compose file the doc points to mounts them the same way.
    assert "examples/demo-stack/compose.yaml" in doc
    compose = (ROOT / "examples" / "demo-stack" / "compose.yaml").read_text()
    assert f"../../grafana/provisioning:{PROVISIONING_MOUNT}:ro" in compose
    assert f"../../grafana/dashboards:{DASHBOARDS_MOUNT}:ro" in compose


# --- the lint can fail: broken inputs must be reported ----------------------

GOOD_EXPR = (
    'sum by (account_id, region) (rate(cleanrooms_api_requests_total{job=~"$job",'
    'instance=~"$instance",account_id=~"$account_id",region=~"$region"}[$__rate_interval]))'
)


def good_panel() -> dict[str, Any]:
    return {
        "type": "timeseries",
        "id": 1,
        "title": "Requests",
        "description": "AWS API attempts.",
        "datasource": dict(DATASOURCE_REF),
        "fieldConfig": {"defaults": {"unit": "reqps"}, "overrides": []},
        "targets": [{"refId": "A", "datasource": dict(DATASOURCE_REF), "expr": GOOD_EXPR}],
    }


def good_dashboard() -> dict[str, Any]:
    def var(name: str) -> dict[str, Any]:
        return {
            "name": name,
            "type": "query",
            "datasource": dict(DATASOURCE_REF),
            "query": f"label_values(cleanrooms_target_up, {name})",
            "multi": True,
            "includeAll": True,
        }

    return {
        "uid": "cleanrooms-test",
        "title": "Test",
        "id": None,
        "schemaVersion": 39,
        "editable": True,
        "tags": ["cleanrooms"],
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "query": "prometheus"},
                *(var(n) for n in FILTER_LABELS),
            ]
        },
        "panels": [good_panel()],
    }


def test_good_examples_pass() -> None:
    assert dashboard_problems(good_dashboard()) == []
    assert expr_problems(GOOD_EXPR, dashboard=True) == []


F4 = 'job=~"$job",instance=~"$instance",account_id=~"$account_id",region=~"$region"'


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("cleanrooms_target_up", "has no label matchers"),
        ("sum(cleanrooms_target_up)", "has no label matchers"),
        ('cleanrooms_target_up{job=~"$job",instance=~"$instance"}', "account_id"),
        (
            'cleanrooms_target_up{job="x",instance=~"$instance",account_id=~"$account_id",'
            'region=~"$region"}',
            'job=~"$job"',
        ),
        ('cleanrooms_api_request_duration_seconds_count{job=~"$job"}', "instance"),
        (f"cleanrooms_api_requests_total{{{F4}}}", "inside rate()"),
        (f"sum(cleanrooms_api_errors_total{{{F4}}})", "inside rate()"),
        (f"rate(cleanrooms_api_errors_total{{{F4}}}[5m])", "[$__rate_interval]"),
        (f"delta(cleanrooms_api_throttles_total{{{F4}}}[$__rate_interval])", "inside rate()"),
        (
            "histogram_quantile(0.9, sum by (le) (cleanrooms_api_request_duration_seconds_bucket"
            '{job=~"$job",instance=~"$instance"}))',
            "inside rate()",
        ),
        (f"cleanrooms_target_upp{{{F4}}}", "not in the metric contract"),
        (f"sum by (instance) (cleanrooms_target_up{{{F4}}})", "aggregates by instance"),
        ('{__name__="cleanrooms_target_up"}', "without a metric name"),
        ("cleanrooms_target_up{job=~$job}", "cannot parse matchers"),
        (
            f'cleanrooms_collaboration_members{{member_status="LEFT",{F4}}}',
            "has no label 'member_status'",
        ),
        (f'cleanrooms_memberships{{collector="members",{F4}}}', "has no label 'collector'"),
    ],
)
def test_expression_lint_reports(expr: str, expected: str) -> None:
    problems = expr_problems(expr, dashboard=True)
    assert any(expected in p for p in problems), problems


def test_expression_lint_ignores_strings_and_label_names() -> None:
    expr = (
        f'label_replace(cleanrooms_target_up{{{F4}}}, "cleanrooms_x", "$1", "account_id", "(.*)")'
    )
    assert expr_problems(expr, dashboard=True) == []


def test_rule_lint_checks_label_names_too() -> None:
    ok = 'cleanrooms_collaboration_members{status="LEFT"} offset 15m'
    assert expr_problems(ok, dashboard=False) == []
    problems = expr_problems(ok.replace("status", "member_status"), dashboard=False)
    assert any("has no label 'member_status'" in p for p in problems), problems


def test_rule_lint_allows_any_range_but_still_wants_rate() -> None:
    assert expr_problems("rate(cleanrooms_api_errors_total[15m])", dashboard=False) == []
    problems = expr_problems("cleanrooms_api_errors_total > 0", dashboard=False)
    assert any("inside rate()" in p for p in problems)


def test_rule_lint_allows_the_presence_of_a_counter_in_rules_only() -> None:
    presence = "present_over_time(cleanrooms_api_errors_total[1h] offset 1h)"
    assert expr_problems(presence, dashboard=False) == []
    for expr, dashboard in (
        ("present_over_time(cleanrooms_api_errors_total[1h])", True),
        ("max_over_time(cleanrooms_api_errors_total[1h])", False),
    ):
        problems = expr_problems(expr, dashboard=dashboard)
        assert any("inside rate()" in p for p in problems), (expr, problems)


def test_constant_rule_pattern() -> None:
    assert CONSTANT_RULE.match("vector(100)")
    assert CONSTANT_RULE.match(" vector( 2.5 )\n")
    assert not CONSTANT_RULE.match("vector(time())")
    assert not CONSTANT_RULE.match("cleanrooms_target_up")


def test_user_variables_take_their_defaults() -> None:
    dash = {"templating": {"list": [{"name": "price", "type": "textbox", "query": "2"}]}}
    assert user_variables(dash) == {"${price}": "2", "$price": "2"}


def _broken(path: str, value: Any) -> dict[str, Any]:
    """good_dashboard() with one key (dotted path; ints index lists) replaced or deleted."""
    dash = copy.deepcopy(good_dashboard())
    node: Any = dash
    keys = [int(k) if k.isdigit() else k for k in path.split(".")]
    for key in keys[:-1]:
        node = node[key]
    if value is _DELETE:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return dash


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("panels.0.title", "", "has no title"),
        ("panels.0.description", _DELETE, "no description"),
        ("panels.0.fieldConfig.defaults", {}, "no unit"),
        ("panels.0.datasource", {"type": "prometheus", "uid": "abc123"}, "datasource must be"),
        ("panels.0.targets.0.datasource", _DELETE, "A: datasource must be"),
        ("panels.0.targets", [], "no targets"),
        ("panels.0.targets.0.expr", "cleanrooms_target_up", "has no label matchers"),
        ("uid", "Clean Rooms Overview With A Long Generated Name", "uid"),
        ("id", "abc", "id must be"),
        ("schemaVersion", 27, "schemaVersion"),
        ("editable", False, "editable"),
        ("tags", ["aws"], "tags"),
        ("__inputs", [{"name": "DS_PROMETHEUS"}], "__inputs"),
        ("templating.list.0", {"name": "datasource", "type": "custom"}, "'datasource'"),
        ("templating.list.1.name", "jobs", "missing template variable 'job'"),
        ("templating.list.2.multi", False, "multi-value"),
        ("templating.list.3.includeAll", False, "multi-value"),
        ("templating.list.4.datasource", {"type": "prometheus", "uid": "x"}, "must be a query"),
        ("templating.list.4.query", "label_values(up, region)", "label_values(cleanrooms_"),
        ("templating.list.3.query", "label_values(cleanrooms_nope, account_id)", "contract"),
    ],
)
def test_dashboard_lint_reports(path: str, value: Any, expected: str) -> None:
    problems = dashboard_problems(_broken(path, value))
    assert any(expected in p for p in problems), problems


def test_dashboard_lint_reports_panels_inside_rows() -> None:
    dash = good_dashboard()
    nested = good_panel()
    nested["id"] = 2
    nested["targets"][0]["expr"] = "cleanrooms_target_up"
    dash["panels"].append({"type": "row", "id": 3, "title": "Row", "panels": [nested]})
    assert any("has no label matchers" in p for p in dashboard_problems(dash))


def test_dashboard_lint_reports_duplicate_panel_ids() -> None:
    dash = good_dashboard()
    dash["panels"].append(good_panel())
    assert any("not unique" in p for p in dashboard_problems(dash))
