"""The compiled parser returns exactly what botocore's own parser returns.

Bodies are generated from each operation's output shape in botocore's model: every
member type, nested lists, maps and unions, plus the odd cases (missing members, empty
lists, huge pages, unknown members, nulls, unparseable timestamps, wrong types).
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from exporter.aws.clients import AwsClients
from exporter.aws.fastparse import FastParserFactory
from exporter.config import AwsSettings
from exporter.core.errors import ApiError
from exporter.core.stats import ApiStats


def test_exporter_clients_use_it_and_errors_still_raise_api_errors(proxy: Any) -> None:
    settings = AwsSettings(endpoint_url=proxy.url, max_attempts=1)
    clients = AwsClients(settings, ApiStats())
    session = clients._signing
    assert isinstance(session.get_component("response_parser_factory"), FastParserFactory)
    from exporter.config import AccountConfig

    account = AccountConfig(id="123456789012", regions=("us-east-1",))
    target = clients.cleanrooms(account, "123456789012", "us-east-1")
    assert "collaborationList" in target.call("ListCollaborations", maxResults=100)
    with pytest.raises(ApiError) as raised:
        target.call(
            "ListMembers",
            collaborationIdentifier="00000000-0000-4000-8000-000000000000",
            maxResults=100,
        )
    # botocore parsed the error answer (a ClientError), which the call hands on in the
    # exporter's own terms.
    assert isinstance(raised.value.__cause__, ClientError)
    assert raised.value.code == "ResourceNotFoundException"
    assert raised.value.operation == "ListMembers"
