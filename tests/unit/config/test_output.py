"""The metrics: section, --metrics.allowlist and --metrics.denylist, and collectors' detail."""

from __future__ import annotations

import pytest

from exporter.app import collector_settings
from exporter.cli.flags import parse_args
from exporter.config import ConfigError, parse_config
from exporter.config.flags import with_collector_flags
from exporter.config.output import MetricsFilter


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, {})
    return str(caught.value).splitlines()


def test_allow_and_deny_lists_are_read_and_reach_the_output() -> None:
    config = parse_config(
        "metrics: {allow: ['cleanrooms_.*'], deny: ['cleanrooms_api_.*', 'x|y']}\n", {}
    )
    assert config.metrics == MetricsFilter(("cleanrooms_.*",), ("cleanrooms_api_.*", "x|y"))
    output = collector_settings(config).output
    assert output.exports("cleanrooms_target_up")
    assert not output.exports("cleanrooms_api_requests_total")
    assert parse_config("", {}).metrics == MetricsFilter()


def test_bad_lists_are_reported_with_their_paths() -> None:
    found = problems(
        "metrics: {allow: ['(', ''], deny: cleanrooms_x, keep: []}\n"
        "collectors: {members: {detail: partner}}\n"
    )
    text = "\n".join(found)
    assert "metrics.allow[0]: not a regular expression" in text
    assert "metrics.allow[1]: must be a non-empty regular expression" in text
    assert "metrics.deny: must be a list of regular expressions" in text
    assert "metrics.keep" in text
    assert (
        "collectors.members.detail: must be one of item, membership, collaboration, target, "
        "got 'partner'" in text
    )
    assert "metrics: must be a mapping" in "\n".join(problems("metrics: [a]\n"))


def test_flags_replace_the_file_s_list_of_their_kind() -> None:
    config = parse_config("metrics: {allow: ['a'], deny: ['b']}\n", {})
    args = parse_args(["--metrics.denylist", "c", "--metrics.denylist", "d{1,2}"])
    assert with_collector_flags(config, args).metrics == MetricsFilter(("a",), ("c", "d{1,2}"))
    args = parse_args(["--metrics.allowlist", "e"])
    assert with_collector_flags(config, args).metrics == MetricsFilter(("e",), ("b",))
    with pytest.raises(ValueError, match=r"--metrics.allowlist: not a regular expression"):
        with_collector_flags(config, parse_args(["--metrics.allowlist", "("]))


def test_a_detail_level_per_collector_the_primary_included() -> None:
    config = parse_config(
        "collectors: {collaborations: {detail: target}, "
        "protected_queries: {enabled: true, detail: collaboration}, members: {enabled: true}}\n",
        {},
    )
    details = {s.name: s.detail for s in config.schedules()}
    assert details["collaborations"] == "target"
    assert details["protected_queries"] == "collaboration"
    assert details["members"] == "item"  # the default: the finest, as before
    output = collector_settings(config).output
    assert output.detail_of("collaborations") == "target"
    assert output.detail_of("members") == "item"
    assert output.detail == (("collaborations", "target"), ("protected_queries", "collaboration"))
