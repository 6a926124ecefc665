"""A stop gives polls in flight a bounded grace: with the rest of a stop, within two seconds."""

from __future__ import annotations

import threading
import time
from typing import Any

from exporter.core.model import Target
from exporter.polling import poller as poller_module
from exporter.polling import pool
from exporter.polling.poller import CollectorJob, Poller

# docs/operations.md: SIGTERM ends the exporter within two seconds, even mid-poll. Besides
# the poller, a stop waits for the HTTP server's loop (half a second, at the same time) and
# for the process to exit; the poller must give up on a hung call well before.
PROMISED = 2.0
REST_OF_A_STOP = 0.5


def test_a_stop_abandons_a_hung_poll_within_its_grace() -> None:
    polling, release = threading.Event(), threading.Event()

    def hang(_target: Target, _needed: Any, _previous: Any) -> None:
        polling.set()
        release.wait(30)  # an AWS call that does not answer

    poller = Poller(
        [CollectorJob("collaborations", hang, 60, "ListCollaborations", primary=True)], 1
    )
    poller.set_targets([Target("111111111111", "us-east-1")])
    poller.start()
    try:
        assert polling.wait(5)
        began = time.monotonic()
        poller.stop()
        took = time.monotonic() - began
    finally:
        release.set()
    assert 0.4 <= took < PROMISED - REST_OF_A_STOP  # some grace, and not the whole promise


def test_the_worker_pool_kills_a_worker_within_the_promise() -> None:
    # A worker's own poller gives up after its grace; the pool kills it a little after.
    assert poller_module.STOP_SECONDS < pool.STOP_SECONDS <= PROMISED - REST_OF_A_STOP
