"""Property-based tests: any config file is exit 0 or 2 with a message, never a traceback;
any label value AWS could send renders an exposition that Prometheus' parsers accept."""

from __future__ import annotations

import contextlib
import io
import subprocess
import time
from collections.abc import Iterable
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from exporter.cli.main import main
from exporter.config import AccountConfig, Config
from exporter.core.model import Snapshot, Target, TargetState
from exporter.core.stats import ApiStats
from exporter.metrics.collector import CleanRoomsCollector, CollectorSettings
from exporter.metrics.exposition import ExpositionRenderer
from tests.conftest import require_tool
from tests.test_collector import build_poll_data  # wherever the collector keeps it

CONFIG_KEYS = tuple(f.name for f in fields(Config))  # the top-level keys, one per field
ACCOUNT_KEYS = tuple(f.name for f in fields(AccountConfig))
WEB_KEYS = ("tls_server_config", "http_server_config", "basic_auth_users")
SPECIAL = ('"', "\\", "\n", "\r", "\t", "\x00", "\u2028", "\ufeff", "{", "}", "=", ",", "#", "$")

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["1s", "5m", "us-east-1", "ACTIVE", "123456789012", "auto", "", "TLS13"])
)
# Any YAML value: scalars, lists and mappings, nested.
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=10) | st.integers() | st.booleans(), inner, max_size=4)
    ),
    max_leaves=25,
)


def keyed(keys: tuple[str, ...], inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mappings whose keys are mostly the real ones, so validation goes deep."""
    return st.dictionaries(st.sampled_from(keys) | st.text(max_size=8), inner, max_size=6)


config_documents = keyed(
    CONFIG_KEYS,
    values
    | keyed(("endpoint_url", "organizations", "count", "index"), values)
    | st.lists(keyed(ACCOUNT_KEYS, values), max_size=3),
)
web_documents = keyed(WEB_KEYS, values | keyed(("cert_file", "headers", "http2"), values))
# Deep nesting. Hypothesis raises the recursion limit while it runs, so the cheap
# openers go deeper than PyYAML could ever manage; "[" and "{" scan in quadratic time.
nesting = st.builds(
    lambda opener, depth, tail: opener * depth + tail,
    st.sampled_from(["- ", "? ", "a: {"]),
    st.integers(1, 6000),
    st.sampled_from(["", "x", "]" * 10, "}"]),
) | st.builds(
    lambda opener, depth: opener * depth, st.sampled_from(["[", "{"]), st.integers(1, 300)
)


def run_cli(*args: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([*args, "--config.check"])
    return code, err.getvalue()


def assert_clean_verdict(code: int, err: str) -> None:
    assert code in (0, 2), err
    assert "Traceback" not in err
    if code == 2:
        assert err.startswith("cleanrooms-exporter: "), err
        assert len(err.strip()) > len("cleanrooms-exporter:"), err


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("properties")


FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def verdict_on(scratch: Path, flag: str, data: bytes) -> None:
    """Write ``data`` as the file of ``flag``; --config.check must give a clean verdict."""
    path = scratch / "file.yaml"
    path.write_bytes(data)
    assert_clean_verdict(*run_cli(flag, str(path)))


def dump(document: Any) -> bytes:
    return yaml.safe_dump(document, allow_unicode=True).encode("utf-8")


@FUZZ
@given(document=config_documents | values)
def test_any_yaml_config_is_a_clean_verdict(scratch: Path, document: Any) -> None:
    verdict_on(scratch, "--config.file", dump(document))


@FUZZ
@given(document=web_documents | values)
def test_any_yaml_web_config_is_a_clean_verdict(scratch: Path, document: Any) -> None:
    verdict_on(scratch, "--web.config.file", dump(document))


@pytest.mark.parametrize("flag", ["--config.file", "--web.config.file"])
@FUZZ
@given(data=st.binary(max_size=400) | nesting.map(str.encode))
@example(data=b"- " * 6000)  # was a RecursionError and a traceback
@example(data=b"a: {" * 6000)
def test_any_bytes_are_a_clean_verdict(scratch: Path, flag: str, data: bytes) -> None:
    verdict_on(scratch, flag, data)


# Anything JSON can carry: every code point, lone surrogates included, and the
# characters the exposition formats escape or treat specially.
aws_strings = st.text(
    alphabet=st.characters(exclude_categories=()) | st.sampled_from(SPECIAL), max_size=300
)
required = aws_strings.filter(bool)


def expected_label(value: str) -> str:
    """The documented treatment: invalid UTF-8 replaced, capped at 256 characters."""
    safe = value.encode("utf-8", "replace").decode("utf-8")
    return safe if len(safe) <= 256 else safe[:255] + "\u2026"


def info_labels(families: Iterable[Metric]) -> set[tuple[str, str]]:
    return {
        (s.labels["collaboration_id"], s.labels["collaboration_name"])
        for f in families
        for s in f.samples
        if s.name == "cleanrooms_collaboration_info"
    }


def render(collaborations: list[dict[str, Any]], account_name: str) -> tuple[str, str]:
    target = Target("111111111111", "us-east-1", account_name)
    data = build_poll_data(collaborations, pages=1, member_status=None)
    state = TargetState(
        target=target,
        data=data,
        up=True,
        polled=True,
        polls=1,
        last_success=1.8e9,
        last_success_monotonic=time.monotonic(),
    )
    snapshot = Snapshot(MappingProxyType({target.key: state}))
    collector = CleanRoomsCollector(
        lambda: snapshot, ApiStats(), lambda: CollectorSettings(1e12, True, ())
    )
    CollectorRegistry().register(collector)
    renderer = ExpositionRenderer(collector)
    text = renderer.render("")[0].decode("utf-8")
    openmetrics = renderer.render("application/openmetrics-text; version=1.0.0")[0].decode()
    return text, openmetrics


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "id": required,
                "name": required,
                "creatorAccountId": required,
                "memberStatus": required,
                "creatorDisplayName": aws_strings,
                "membershipId": aws_strings,
            }
        ),
        min_size=1,
        max_size=4,
        unique_by=lambda c: c["id"],
    ),
    aws_strings,
)
def test_any_aws_string_renders_a_valid_exposition(
    collaborations: list[dict[str, Any]], account_name: str
) -> None:
    created = datetime.fromtimestamp(1.7e9, UTC)
    for collaboration in collaborations:
        collaboration |= {"createTime": created, "updateTime": created}
    text, openmetrics = render(collaborations, account_name)
    sent = {(expected_label(c["id"]), expected_label(c["name"])) for c in collaborations}
    assert info_labels(text_string_to_metric_families(text)) == sent
    assert info_labels(openmetrics_families(openmetrics)) == sent
    result = subprocess.run(
        [require_tool("promtool"), "check", "metrics"],
        input=text.encode(),
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
