"""A poll's next request waits while a scrape renders (the app's gate), then goes."""

from __future__ import annotations

import threading
from typing import Any

from exporter.aws.clients import AwsClients
from exporter.config import AccountConfig, AwsSettings
from exporter.core.gate import ScrapeGate
from exporter.core.stats import ApiStats


def test_requests_wait_for_a_rendering_scrape(proxy: Any) -> None:
    gate = ScrapeGate(max_wait=10.0)
    clients = AwsClients(AwsSettings(endpoint_url=proxy.url, max_attempts=1), ApiStats(), gate=gate)
    account = AccountConfig(id="123456789012", regions=("us-east-1",))
    target = clients.cleanrooms(account, "123456789012", "us-east-1")
    answered = threading.Event()

    def poll() -> None:
        target.call("ListCollaborations", maxResults=100)
        answered.set()

    with gate.scraping():
        thread = threading.Thread(target=poll)
        thread.start()
        assert not answered.wait(0.5)
        assert len(proxy.calls("ListCollaborations")) == 0  # not sent while the scrape renders
    assert answered.wait(10)
    thread.join()
    assert len(proxy.calls("ListCollaborations")) == 1
