"""Scale-out features: sharding, the client-side rate limit, and Organizations discovery."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import boto3
import pytest

from exporter.app import App
from exporter.config import parse_config
from tests.faultproxy import FaultProxy, Reply, always, wait_for
from tests.helpers import Seeder

ACCOUNTS = [f"{700000000000 + i * 7919:012d}" for i in range(3000)]


MANAGEMENT = "123456789012"  # moto's account for plain (non-role) keys


REGION = "ap-southeast-2"  # no other test uses it, so moto's shared state stays apart


@pytest.fixture(scope="module")
def organization(moto_server: str) -> dict[str, list[str]]:
    """An organization in moto: root -> ou-a -> ou-a1, one account at each level, one closed."""
    org = boto3.client(
        "organizations",
        region_name="us-east-1",
        endpoint_url=moto_server,
        # Module-scoped: runs before the per-test fake credentials are in place.
        aws_access_key_id="AKIATESTTESTTESTTEST",
        aws_secret_access_key="test-secret-key-do-not-leak",
    )
    with contextlib.suppress(org.exceptions.AlreadyInOrganizationException):
        org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    ou_a = org.create_organizational_unit(ParentId=root, Name="a")["OrganizationalUnit"]["Id"]
    ou_a1 = org.create_organizational_unit(ParentId=ou_a, Name="a1")["OrganizationalUnit"]["Id"]

    def account(name: str, parent: str) -> str:
        made = org.create_account(Email=f"{name}@example.com", AccountName=name)
        account_id = str(made["CreateAccountStatus"]["AccountId"])
        org.move_account(AccountId=account_id, SourceParentId=root, DestinationParentId=parent)
        return account_id

    in_root, in_a, in_a1 = account("top", root), account("mid", ou_a), account("deep", ou_a1)
    closed = account("closed", ou_a)
    org.close_account(AccountId=closed)
    seeder = Seeder()
    for account_id in (in_root, in_a, in_a1):
        seeder.statuses(account_id, REGION, ACTIVE=1, INVITED=1)
    return {"ids": [in_root, in_a, in_a1], "ous": [ou_a], "closed": [closed]}


def discovery_app(endpoint: str, extra: str = "", accounts: str = "") -> App:
    text = (
        f"aws: {{endpoint_url: '{endpoint}', max_attempts: 1}}\nregions: [{REGION}]\n"
        "discovery:\n  organizations:\n    role_name: CleanRoomsReadOnly\n"
        f"    external_id: ext-1\n{extra}{accounts}"
    )
    app = App(parse_config(text, {}))
    app.start()
    assert app.wait_ready(60)
    return app


def test_three_apps_cover_every_target_once() -> None:
    accounts = ACCOUNTS[:60]
    roles = "\n".join(f"  - {{role_arn: 'arn:aws:iam::{a}:role/R'}}" for a in accounts)
    polled: list[set[tuple[str, str]]] = []
    for index in range(3):
        text = f"regions: [us-east-1, eu-west-2]\nsharding: {{index: {index}, count: 3}}\n"
        app = App(parse_config(f"{text}accounts:\n{roles}\n", {}))
        polled.append(set(app.poller.snapshot.states))
    everything = {(a, r) for a in accounts for r in ("us-east-1", "eu-west-2")}
    assert set().union(*polled) == everything
    assert sum(len(p) for p in polled) == len(everything)  # disjoint
    for shard in polled:  # an account's regions stay together
        assert all((a, "eu-west-2") in shard for a, _ in shard)


def test_rate_limit_spaces_one_targets_pages(
    proxy: FaultProxy, seeder: Seeder, new_account: Callable[[], str]
) -> None:
    account = new_account()
    seeder.statuses(account, REGION, ACTIVE=350)  # four pages
    text = (
        f"aws: {{endpoint_url: '{proxy.url}'}}\nrate_limit: {{requests_per_second: 4, burst: 1}}\n"
        f"accounts: [{{role_arn: 'arn:aws:iam::{account}:role/R', regions: [{REGION}]}}]\n"
    )
    app = App(parse_config(text, {}))
    app.start()
    try:
        assert app.wait_ready(30)
    finally:
        app.stop()
    times = [s.at for s in proxy.calls("ListCollaborations", account)]
    assert len(times) == 4
    # 4 per second with no burst: three gaps of a quarter second at least (the span is
    # measured where the requests arrive, so one late arrival cannot fake a short gap).
    assert times[-1] - times[0] >= 0.7
    assert app.poller.snapshot.states[(account, REGION)].up


def test_discovery_finds_active_accounts_in_nested_ous(
    proxy: FaultProxy, organization: dict[str, list[str]]
) -> None:
    app = discovery_app(proxy.url, "    include_ous: [" + organization["ous"][0] + "]\n")
    try:
        found = {key[0] for key in app.poller.snapshot.states}
        assert found == set(organization["ids"][1:])  # mid and deep; not top, not closed
        for account_id in found:
            calls = proxy.calls("AssumeRole", account_id)
            assert calls
            assert f"{account_id}%3Arole%2FCleanRoomsReadOnly" in calls[0].body
            assert "ExternalId=ext-1" in calls[0].body
            labels = {"account_id": account_id, "region": REGION, "member_status": "INVITED"}
            assert app.registry.get_sample_value("cleanrooms_collaborations", labels) == 1
        assert app.registry.get_sample_value("cleanrooms_discovery_accounts") == 2
        assert app.registry.get_sample_value("cleanrooms_discovery_up") == 1
        listing = {"account_id": MANAGEMENT, "region": "us-east-1"}
        for operation in ("ListAccountsForParent", "ListOrganizationalUnitsForParent"):
            count = app.registry.get_sample_value(
                "cleanrooms_api_requests_total", {**listing, "operation": operation}
            )
            assert count is not None
            assert count >= 1
    finally:
        app.stop()


def test_static_accounts_merge_and_failures_keep_the_last_list(
    proxy: FaultProxy, organization: dict[str, list[str]]
) -> None:
    top = organization["ids"][0]
    static = (
        f"accounts:\n  - {{id: '{top}', name: static-name, "
        f"role_arn: 'arn:aws:iam::{top}:role/Other', regions: [{REGION}]}}\n"
    )
    exclude = f"    exclude_accounts: ['{MANAGEMENT}']\n"
    app = discovery_app(proxy.url, exclude, static)
    try:
        before = set(app.poller.snapshot.states)
        assert {k[0] for k in before} == set(organization["ids"])  # no duplicate of top
        info = {"account_id": top, "account_name": "static-name"}
        assert app.registry.get_sample_value("cleanrooms_account_info", info) == 1
        assert proxy.calls("AssumeRole", top)[0].body.count("role%2FOther") == 1
        proxy.rules.append(always(Reply.aws_error(500, "ServiceException"), "ListAccounts"))
        assert app.discoverer is not None
        assert not app.discoverer.run_once()
        assert set(app.poller.snapshot.states) == before  # the last good list stays
        assert app.registry.get_sample_value("cleanrooms_discovery_up") == 0
        assert app.registry.get_sample_value("cleanrooms_discovery_failures_total") == 1
        errors = app.registry.get_sample_value(
            "cleanrooms_api_errors_total",
            {
                "account_id": MANAGEMENT,
                "region": "us-east-1",
                "operation": "ListAccounts",
                "error_code": "ServiceException",
            },
        )
        assert errors == 1
        proxy.rules.clear()
        assert app.discoverer.run_once()
        wait_for(lambda: app.registry.get_sample_value("cleanrooms_discovery_up") == 1)
    finally:
        app.stop()


def test_discovery_through_a_management_role_counts_its_assume_role(
    proxy: FaultProxy, organization: dict[str, list[str]]
) -> None:
    extra = f"    role_arn: 'arn:aws:iam::{MANAGEMENT}:role/OrganizationsReader'\n"
    app = discovery_app(proxy.url, extra + "    include_ous: [" + organization["ous"][0] + "]\n")
    try:
        assert {key[0] for key in app.poller.snapshot.states} == set(organization["ids"][1:])
        reader = [
            c for c in proxy.calls("AssumeRole", MANAGEMENT) if "OrganizationsReader" in c.body
        ]
        assert len(reader) == 1
        assert "ExternalId=ext-1" in reader[0].body
        labels = {"account_id": MANAGEMENT, "region": "us-east-1", "operation": "AssumeRole"}
        assert app.registry.get_sample_value("cleanrooms_api_requests_total", labels) == 1
    finally:
        app.stop()


def test_discovery_survives_an_identity_failure_and_a_bug(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from botocore.exceptions import EndpointConnectionError

    from exporter.aws.discovery import Discoverer

    changes: list[int] = []
    outcomes = iter([EndpointConnectionError(endpoint_url="http://sts"), KeyError("bug"), ["one"]])

    def run() -> list:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    discoverer = Discoverer(run, 3600, lambda accounts: changes.append(len(accounts)))
    with caplog.at_level("WARNING", logger="exporter.aws.discovery"):
        assert not discoverer.run_once()  # the identity look-up failed: counted, not fatal
    (failed,) = caplog.records
    # The log fields are attributes of their own, not words in the message.
    assert (failed.operation, failed.error_code) == ("GetCallerIdentity", "ConnectionError")  # type: ignore[attr-defined]
    assert "ConnectionError" not in failed.getMessage()
    assert discoverer.attempted.is_set()
    assert discoverer.status.failures == 1
    with pytest.raises(KeyError):
        discoverer.run_once()  # a bug escapes run_once, but the loop catches it
    assert discoverer.run_once()
    assert changes == [1]
