"""Config mistakes that passed silently: unexpanded variables, repeated keys, tiny intervals."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.config import ConfigError, load_config, parse_config, read_yaml
from exporter.config.ids import sts_rule
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
    config = parse_config(external_id("a-${EXT}"), {"EXT": "secret"})
    assert config.accounts[0].external_id == "a-secret"
    named = parse_config(f"accounts: [{{role_arn: '{ROLE}', name: 'a$$b-${{EXT}}'}}]", {"EXT": "x"})
    assert named.accounts[0].name == "a$b-x"


def test_a_repeated_key_is_an_error_naming_both_lines() -> None:
    text = "poll_interval: 5m\nregions: [us-east-1]\npoll_interval: 1m\n"
    assert problems_of(text) == ["line 3: key 'poll_interval' repeats the key of line 1"]
    assert problems_of("aws: {max_attempts: 3, max_attempts: 4}\n") == [
        "line 1, column 24: key 'max_attempts' repeats the key of line 1, column 7"
    ]


def test_a_repeated_key_in_the_web_config_file_too(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_web_config("http_server_config: {}\nhttp_server_config: {}\n", tmp_path)
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


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "poll_intervall: 5m\n",
            "line 1: poll_intervall: unknown key, did you mean poll_interval?",
        ),
        (
            f"regions: [us-east-1]\naccounts:\n  - rolearn: {ROLE}\n",
            "line 3: accounts[0].rolearn: unknown key, did you mean role_arn?",
        ),
        (
            f"accounts:\n  - {{role_arn: '{ROLE}'}}\n"
            "  - id: '111111111111'\n    Regions: [eu-west-2]\n",
            "line 4: accounts[1].Regions: unknown key, did you mean regions?",
        ),
        (
            "aws:\n  retry_mod: standard\n",
            "line 2: aws.retry_mod: unknown key, did you mean retry_mode?",
        ),
        ("colour: blue\n", "line 1: colour: unknown key"),  # nothing close: no guess
        (
            "collectors:\n  memebers: {}\n",
            "line 2: collectors.memebers: unknown collector, did you mean members? (known: ",
        ),
        (
            "collectors:\n  members: {enabeld: true}\n",
            "line 2: collectors.members.enabeld: unknown key, did you mean enabled?",
        ),
        (
            "discovery:\n  organizations:\n    role_nmae: X\n",
            "line 3: discovery.organizations.role_nmae: unknown key, did you mean role_name?",
        ),
    ],
)
def test_an_unknown_key_gets_its_line_and_the_closest_known_key(text: str, problem: str) -> None:
    found = problems_of(text)
    assert any(p.startswith(problem) for p in found), found
    if "did you mean" not in problem:
        assert not any("did you mean" in p for p in found), found


def test_an_unknown_web_config_key_gets_its_line_and_the_closest_known_key(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_web_config("http_server_config:\n  header: {}\ntls_server_confg: {}\n", tmp_path)
    assert raised.value.problems == [
        "line 3: tls_server_confg: unknown key, did you mean tls_server_config?",
        "line 2: http_server_config.header: unknown key, did you mean headers?",
    ]


def test_key_lines_survive_aliases_and_deep_nesting() -> None:
    lines: dict[str, int] = {}
    bomb = "a: &a [x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    read_yaml(bomb, lines)  # 8**9 paths if aliases were walked again: this returns at once
    assert lines["i"] == 9
    deep: dict[str, int] = {}
    read_yaml("k: " + "[" * 100 + "]" * 100 + "\n", deep)
    assert deep == {"k": 1}


ELEVEN = "12345678901"


@pytest.mark.parametrize(
    ("written", "problem"),
    [
        (f"'{ELEVEN}'", f"must be 12 digits, got 11 ('{ELEVEN}')"),
        ("'1234567890123'", "must be 12 digits, got 13 ('1234567890123')"),
        ("'1234-5678-9012'", "must be 12 digits (0-9 only), got '1234-5678-9012'"),
        ("'12345678901a'", "must be 12 digits (0-9 only), got '12345678901a'"),
        (
            "123456789012",
            "must be quoted: write '123456789012' (unquoted, YAML reads a number, "
            "which drops leading zeros)",
        ),
        (ELEVEN, f"must be 12 digits in quotes; unquoted, YAML read the number {ELEVEN}"),
        ("[1]", "must be a quoted 12-digit account id, got [1]"),
    ],
)
def test_the_account_id_message_says_what_is_wrong(written: str, problem: str) -> None:
    for text, where in (
        (f"accounts: [{{id: {written}}}]\n", "accounts[0].id"),
        (f"trusted_creator_accounts: [{written}]\n", "trusted_creator_accounts[0]"),
        (
            f"discovery: {{organizations: {{include_accounts: [{written}]}}}}\n",
            "discovery.organizations.include_accounts[0]",
        ),
    ):
        found = [p for p in problems_of(text) if p.startswith(f"{where}: ")]
        assert len(found) == 1, found
        assert found[0].startswith(f"{where}: {problem}"), found
        if written.startswith("'"):  # it was quoted: no advice to quote it
            assert "quote" not in found[0], found


def test_the_sts_rules_are_read_from_botocores_model() -> None:
    # AWS documents ExternalId as 2 to 1,224 characters of [\w+=,.@:/-]; botocore's model
    # says the same, and the exporter reads it from there.
    rule = sts_rule("externalIdType", "ExternalId")
    assert (rule.minimum, rule.maximum, rule.pattern) == (2, 1224, r"[\w+=,.@:\/-]*")
    session = sts_rule("roleSessionNameType", "RoleSessionName")
    assert (session.minimum, session.maximum) == (2, 64)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("q", "must be 2 to 1,224 characters (AWS's rule for ExternalId), got 1"),
        ("x" * 1225, "must be 2 to 1,224 characters (AWS's rule for ExternalId), got 1,225"),
        (
            "my secret",
            r"character 3 is not allowed: AWS's pattern for ExternalId is [\w+=,.@:\/-]*",
        ),
        ("caf\u00e9-1", "character 4 is not allowed"),  # \w is ASCII for AWS
        ("a" * 1224, None),
        ("ab", None),
        ("arn:aws:x/y-z_1@e.c,=+", None),
    ],
)
def test_external_id_is_checked_offline_as_sts_checks_it(value: str, problem: str | None) -> None:
    for text in (
        external_id(value),
        f"discovery: {{organizations: {{role_arn: '{ROLE}', external_id: '{value}'}}}}\n",
    ):
        if problem is None:
            assert parse_config(text, {})
            continue
        (found,) = problems_of(text)
        assert found.endswith(f".external_id: {problem}") or problem in found, found
        assert value[:3] not in found  # a secret is never quoted back


def test_session_name_follows_the_same_model() -> None:
    assert problems_of("aws: {role_session_name: 'a b'}\n") == [
        r"aws.role_session_name: character 2 is not allowed: AWS's pattern for RoleSessionName "
        r"is [\w+=,.@-]*"
    ]
