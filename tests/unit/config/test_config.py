"""Configuration parsing and validation: every problem reported at once, with its path."""

from __future__ import annotations

import pytest

from exporter.config import ConfigError, load_config, parse_config, parse_duration
from exporter.config.sdk_facts import cleanrooms_regions
from tests.paths import ROOT


def problems_of(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, env or {})
    return info.value.problems


def test_example_config_is_valid() -> None:
    config = load_config(ROOT / "config.example.yaml", {"CLEANROOMS_EXTERNAL_ID": "ext-123"})
    assert config.poll_interval == 300
    assert config.stale_after == 900
    assert config.trusted_creator_accounts == ("444444444444",)
    first, second = config.accounts  # the profile example is commented out: it must exist
    assert first.id == "111111111111"
    assert first.external_id == "ext-123"
    assert first.regions == ("us-east-1", "eu-west-2")
    assert second.source == "default credential chain"
    assert second.regions == ("us-east-1",)
    assert config.aws.read_timeout == 20


def test_no_config_file_uses_region_from_environment() -> None:
    assert load_config(None, {"AWS_REGION": "eu-west-1"}).regions == ("eu-west-1",)
    assert load_config(None, {"AWS_DEFAULT_REGION": "us-west-2"}).regions == ("us-west-2",)
    config = load_config(None, {})
    assert config.regions == ("us-east-1",)
    assert config.accounts[0].regions == ("us-east-1",)  # one account, polled in that region
    assert load_config(None, {"AWS_REGION": "eu-west-1"}).accounts[0].regions == ("eu-west-1",)


def test_empty_file_gives_defaults() -> None:
    config = parse_config("", {})
    assert config.accounts[0].regions == ("us-east-1",)
    assert config.concurrency == 16


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h", 3600), ("1h30m", 5400), ("250ms", 0.25), ("2m5s", 125)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "5 m", "m", "-5m", "5d", "1.5m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_every_problem_is_reported_with_its_path() -> None:
    text = """
poll_interval: 0s
stale_after: soon
concurrency: -3
regions: [us-east-1, mars-north-1]
member_status: LEFT
per_collaboration_metrics: "yes"
trusted_creator_accounts: [123]
colour: blue
aws:
  retry_mode: eager
  max_attempts: 0
  read_timeout: 20
  region: us-east-1
accounts:
  - id: "12345"
  - role_arn: arn:aws:iam::222222222222:user/bob
  - id: "333333333333"
    role_arn: arn:aws:iam::444444444444:role/X
  - role_arn: arn:aws:iam::555555555555:role/X
    profile: other
  - external_id: ${MISSING_VAR}
  - "not a mapping"
"""
    problems = problems_of(text)
    expected = [
        "poll_interval: must be greater than zero",
        "stale_after: invalid duration 'soon'",
        "concurrency: must be greater than zero",
        "regions[1]: unknown Clean Rooms region 'mars-north-1'",
        "member_status: must be one of INVITED, ACTIVE or null",
        "per_collaboration_metrics: must be true or false",
        "trusted_creator_accounts[0]: must be 12 digits in quotes; unquoted, YAML read the "
        "number 123",
        "line 9: colour: unknown key",
        "aws.retry_mode: must be one of legacy, standard, adaptive",
        "aws.max_attempts: must be greater than zero",
        "aws.read_timeout: must be a duration string",
        "line 14: aws.region: unknown key",
        "accounts[0].id: must be 12 digits, got 5 ('12345')",
        "accounts[1].role_arn: not an IAM role ARN",
        "accounts[2].role_arn: account differs from id 333333333333",
        "accounts[3]: role_arn and profile are mutually exclusive",
        "accounts[4].external_id: environment variable MISSING_VAR is not set",
        "accounts[4].external_id: only makes sense with role_arn",
        "accounts[5]: must be a mapping",
    ]
    for fragment in expected:
        assert any(fragment in p for p in problems), (fragment, problems)
    assert len(problems) == len(expected), problems


def test_duplicate_targets_are_rejected() -> None:
    text = """
accounts:
  - role_arn: arn:aws:iam::111111111111:role/A
    regions: [us-east-1, eu-west-2]
  - id: "111111111111"
    regions: [eu-west-2]
  - profile: p
  - profile: p
  - {}
  - {}
"""
    problems = problems_of(text)
    assert problems == [
        "accounts[1]: duplicate target (111111111111, eu-west-2), also in accounts[0]",
        "accounts[3]: duplicate target (profile p, us-east-1), also in accounts[2]",
        "accounts[5]: duplicate target (default credential chain, us-east-1), also in accounts[4]",
    ]


def test_region_listed_twice_and_empty_lists() -> None:
    problems = problems_of("regions: [us-east-1, us-east-1]\naccounts: []\n")
    assert problems == [
        "regions[1]: region us-east-1 is listed twice",
        "accounts: must be a non-empty list",
    ]


def test_all_regions() -> None:
    config = parse_config("regions: all\naccounts: [{regions: [eu-west-2]}, {profile: x}]", {})
    assert config.accounts[0].regions == ("eu-west-2",)
    assert config.accounts[1].regions == cleanrooms_regions()
    assert "us-east-1" in cleanrooms_regions()
    assert "eu-west-2" in cleanrooms_regions()


def test_account_id_derived_from_role_arn() -> None:
    config = parse_config("accounts: [{role_arn: 'arn:aws:iam::123456789012:role/R'}]", {})
    assert config.accounts[0].id == "123456789012"


def test_member_status_filter_and_env_expansion() -> None:
    config = parse_config(
        "member_status: INVITED\naws: {endpoint_url: '${EP}'}\n", {"EP": "http://127.0.0.1:1"}
    )
    assert config.member_status == "INVITED"
    assert config.aws.endpoint_url == "http://127.0.0.1:1"


def test_yaml_syntax_error_and_non_mapping() -> None:
    assert problems_of("accounts: [") == [
        "line 1, column 12: yaml: expected the node content, but found '<stream end>'"
    ]
    assert problems_of("- a\n- b\n") == ["top level: must be a mapping"]


def test_stale_after_shorter_than_interval() -> None:
    assert problems_of("poll_interval: 10m\nstale_after: 5m\n") == [
        "stale_after: must be at least poll_interval"
    ]


def test_odd_shapes_are_problems_not_tracebacks() -> None:
    problems = problems_of("regions: [[us-east-1]]\naccounts: [{regions: [{a: 1}]}]\n")
    assert problems[0].startswith("regions[0]: unknown Clean Rooms region")
    assert problems_of(
        "accounts: [{role_arn: 'arn:aws:iam::111111111111:role/R', external_id: 42}]"
    )


def test_external_id_is_never_echoed() -> None:
    problems = problems_of(
        "accounts: [{role_arn: 'arn:aws:iam::111111111111:role/R', external_id: 987654321}]"
    )
    assert problems == ["accounts[0].external_id: must be a non-empty string"]
    assert "987654321" not in " ".join(problems)
