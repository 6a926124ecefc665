"""Quotas: AWS's documented defaults per region, overridden in the config where AWS allows."""

from __future__ import annotations

import pytest

from exporter.config import ConfigError, parse_config
from exporter.config.quotas import limits
from exporter.metrics.builtin import quota_limits
from exporter.polling.targets import build_targets

ROLE = "arn:aws:iam::{}:role/CleanRoomsReadOnly"


class Clients:
    def known_account_id(self, account: object) -> str | None:
        return getattr(account, "id", None)

    def cleanrooms(self, *_: object) -> object:
        raise AssertionError("no client is needed to build targets")


def test_documented_defaults_differ_in_us_east_1() -> None:
    assert limits("us-east-1") == {
        "membership_concurrent_queries": 5,
        "membership_concurrent_jobs": 1,
        "account_concurrent_sql_queries": 5,
        "account_concurrent_pyspark_jobs": 5,
        "account_concurrent_sql_vcpus": 512,
        "account_concurrent_pyspark_vcpus": 1024,
        "account_memberships": 100,
    }
    assert limits("eu-west-2")["account_concurrent_sql_queries"] == 2
    assert limits("eu-west-2")["account_concurrent_pyspark_jobs"] == 2


def test_the_accounts_own_quotas_win_over_the_top_level_ones() -> None:
    text = (
        "quotas: {account_concurrent_sql_queries: 10, account_memberships: 150}\n"
        "regions: [us-east-1, eu-west-2]\n"
        f"accounts:\n  - role_arn: {ROLE.format('111111111111')}\n"
        "    quotas: {account_concurrent_sql_queries: 20}\n"
        f"  - role_arn: {ROLE.format('222222222222')}\n"
    )
    config = parse_config(text, {})
    targets, _ = build_targets(config.accounts, Clients(), quotas=config.quotas)  # type: ignore[arg-type]
    family = quota_limits(t for t, _ in targets.values())
    found = {
        (s.labels["account_id"], s.labels["region"], s.labels["quota"]): s.value
        for s in family.samples
    }
    assert found[("111111111111", "us-east-1", "account_concurrent_sql_queries")] == 20
    assert found[("111111111111", "eu-west-2", "account_concurrent_sql_queries")] == 20
    assert found[("222222222222", "eu-west-2", "account_concurrent_sql_queries")] == 10
    assert found[("222222222222", "eu-west-2", "account_concurrent_pyspark_jobs")] == 2
    assert found[("111111111111", "us-east-1", "account_memberships")] == 150
    assert found[("222222222222", "us-east-1", "membership_concurrent_queries")] == 5
    assert len(found) == 4 * 7
    # None read from Service Quotas: each value is the configuration's or the default.
    assert {s.labels["source"] for s in family.samples} == {"config", "default"}


def test_fixed_unknown_and_bad_quotas_are_problems_with_their_path() -> None:
    text = (
        "quotas: {membership_concurrent_queries: 9, account_concurrent_sql_queries: 0}\n"
        f"accounts: [{{role_arn: '{ROLE.format('111111111111')}', quotas: {{queries: 3}}}}]\n"
    )
    with pytest.raises(ConfigError) as raised:
        parse_config(text, {})
    assert raised.value.problems == [
        "accounts[0].quotas.queries: unknown quota; adjustable: account_concurrent_sql_queries, "
        "account_concurrent_pyspark_jobs, account_concurrent_sql_vcpus, "
        "account_concurrent_pyspark_vcpus, account_memberships",
        "quotas.membership_concurrent_queries: not adjustable: AWS fixes it at 5",
        "quotas.account_concurrent_sql_queries: must be a positive integer, got 0",
    ]
