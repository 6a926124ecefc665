"""Config mistakes that passed silently: unexpanded variables, repeated keys, tiny intervals."""

from __future__ import annotations

import pytest

from exporter.config import ConfigError, load_config, parse_config
from exporter.web.tlsconfig import parse_web_config

ROLE = "arn:aws:iam::111111111111:role/CleanRoomsReadOnly"


def problems_of(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        parse_config(text, env or {})
    return raised.value.problems


def external_id(value: str) -> str:
    return f"accounts: [{{role_arn: '{ROLE}', external_id: '{value}'}}]\n"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("$EXT", "$EXT is not expanded: write ${EXT} (or $$ for a literal $)"),
        ("${EXT", "${EXT has no closing brace: write ${NAME} (or $$ for a literal $)"),
        ("${1EXT}", "${1EXT} is not a variable name: write ${NAME} (or $$ for a literal $)"),
        ("pre$", "a lone $: write ${NAME} for a variable, $$ for a literal $"),
    ],
)
def test_a_dollar_that_is_not_a_variable_is_an_error_never_the_literal_text(
    value: str, problem: str
) -> None:
    assert problems_of(external_id(value), {"EXT": "secret"}) == [
        f"accounts[0].external_id: {problem}"
    ]


def test_braced_variables_expand_and_a_doubled_dollar_is_one_dollar() -> None:
    config = parse_config(external_id("a$$b-${EXT}"), {"EXT": "secret"})
    assert config.accounts[0].external_id == "a$b-secret"


def test_a_repeated_key_is_an_error_naming_both_lines() -> None:
    text = "poll_interval: 5m\nregions: [us-east-1]\npoll_interval: 1m\n"
    assert problems_of(text) == ["line 3: key 'poll_interval' repeats the key of line 1"]
    assert problems_of("aws: {max_attempts: 3, max_attempts: 4}\n") == [
        "line 1, column 24: key 'max_attempts' repeats the key of line 1, column 7"
    ]


def test_a_repeated_key_in_the_web_config_file_too(tmp_path: object) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_web_config("http_server_config: {}\nhttp_server_config: {}\n", tmp_path)  # type: ignore[arg-type]
    assert raised.value.problems == ["line 2: key 'http_server_config' repeats the key of line 1"]


def test_merge_keys_may_be_overridden() -> None:
    text = "aws: &defaults {max_attempts: 3}\nrate_limit: {<<: {burst: 2}, burst: 4}\n"
    assert parse_config(text, {}).rate_limit.burst == 4


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("poll_interval: 1ms\n", "poll_interval"),
        ("collectors: {members: {enabled: true, interval: 50ms}}\n", "collectors.members.interval"),
    ],
)
def test_the_same_minimum_poll_interval_everywhere(text: str, where: str) -> None:
    assert problems_of(text) == [
        f"{where}: must be at least 100ms: a poll interval that short is a typo"
    ]
    assert parse_config(text.replace("1ms", "100ms").replace("50ms", "100ms"), {})


def test_no_file_and_an_empty_file_give_the_same_configuration() -> None:
    for env in ({}, {"AWS_REGION": "eu-west-2"}, {"AWS_DEFAULT_REGION": "eu-central-1"}):
        assert load_config(None, env) == parse_config("", env)
    assert parse_config("", {"AWS_REGION": "eu-west-2"}).regions == ("eu-west-2",)
    assert parse_config("", {}).accounts[0].regions == ("us-east-1",)
