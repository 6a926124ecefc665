"""Property-based tests: any config file is exit 0 or 2 with a message, never a traceback;
any label value AWS could send renders an exposition that Prometheus' parsers accept."""

from __future__ import annotations

import contextlib
import io
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from exporter.cli.main import main
from exporter.config import AccountConfig, Config

CONFIG_KEYS = tuple(f.name for f in fields(Config))  # the top-level keys, one per field
ACCOUNT_KEYS = tuple(f.name for f in fields(AccountConfig))
WEB_KEYS = ("tls_server_config", "http_server_config", "basic_auth_users")

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
