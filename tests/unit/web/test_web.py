"""HTTP endpoints served by a real server on a loopback port."""

from __future__ import annotations

import gzip
import http.client
import threading
from collections.abc import Iterator
from types import MappingProxyType

import pytest
from prometheus_client import CollectorRegistry

from exporter.collectors.collaborations import build_poll_data
from exporter.core.model import CollectorState, PollError, Snapshot, Target
from exporter.core.stats import ApiStats
from exporter.metrics.exposition import ExpositionRenderer
from exporter.metrics.scrape import ScrapeSettings, SnapshotMetrics
from exporter.web.handlers import ExporterServer, WebApp
from tests.unit.metrics.test_collector import NOW, summary


class Holder:
    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot


def ready_snapshot() -> Snapshot:
    target = Target("111111111111", "us-east-1", "prod <b>")
    data = build_poll_data(
        [{**summary("c1", "INVITED", NOW - 100), "name": "<script>alert(1)</script>"}],
        pages=1,
        member_status=None,
    )
    good = CollectorState(
        target=target,
        data=data,
        up=True,
        polled=True,
        polls=1,
        last_success=NOW,
        last_success_monotonic=NOW,
    )
    bad_target = Target("222222222222", "eu-west-2")
    bad = CollectorState(
        target=bad_target,
        polled=True,
        polls=1,
        failures=1,
        last_error=PollError("ListCollaborations", "AccessDeniedException", "<img src=x> denied"),
    )
    return Snapshot(MappingProxyType({target.key: good, bad_target.key: bad}))


@pytest.fixture
def served() -> Iterator[tuple[ExporterServer, Holder]]:
    target = Target("333333333333", "us-east-1")
    holder = Holder(Snapshot(MappingProxyType({target.key: CollectorState(target=target)})))
    registry = CollectorRegistry()
    settings = ScrapeSettings(900, True, ())
    collector = SnapshotMetrics(lambda: holder.snapshot, ApiStats(), lambda: settings)
    registry.register(collector)
    metrics = ExpositionRenderer(collector).render_parts
    server = ExporterServer(("127.0.0.1", 0), WebApp(metrics, lambda: holder.snapshot))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, holder
    server.shutdown()
    server.server_close()


def get(server: ExporterServer, path: str, method: str = "GET", **headers: str):
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
    conn.request(method, path, headers={k.replace("_", "-"): v for k, v in headers.items()})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response, body


def test_metrics_text_format(served) -> None:
    server, _ = served
    response, body = get(server, "/metrics")
    assert response.status == 200
    assert response.getheader("Content-Type").startswith("text/plain; version=0.0.4")
    assert b'cleanrooms_target_up{account_id="333333333333",region="us-east-1"} 0.0' in body


def test_metrics_openmetrics_and_gzip(served) -> None:
    server, _ = served
    response, body = get(
        server,
        "/metrics",
        Accept="application/openmetrics-text; version=1.0.0",
        Accept_Encoding="gzip",
    )
    assert response.getheader("Content-Encoding") == "gzip"
    assert response.getheader("Content-Type").startswith("application/openmetrics-text")
    assert gzip.decompress(body).endswith(b"# EOF\n")


def test_metrics_name_parameter_filters_as_client_python_does(served) -> None:
    server, _ = served
    _, whole = get(server, "/metrics")
    query = "name[]=cleanrooms_target_up&name%5B%5D=cleanrooms_exporter_targets&name[]=nope"
    response, body = get(server, f"/metrics?{query}", Accept_Encoding="gzip")
    assert response.status == 200
    text = gzip.decompress(body).decode()
    sample_lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert sample_lines == [
        'cleanrooms_target_up{account_id="333333333333",region="us-east-1"} 0.0',
        "cleanrooms_exporter_targets 1.0",
    ]
    # Each kept line is the unfiltered answer's own.
    assert all(line.encode() in whole for line in text.splitlines())
    # An empty name[] asks for nothing in particular: the whole exposition.
    _, empty = get(server, "/metrics?name[]=")
    assert empty.count(b"\n# TYPE ") == whole.count(b"\n# TYPE ")


def test_ready_turns_200_after_first_round(served) -> None:
    server, holder = served
    assert get(server, "/-/ready")[0].status == 503
    holder.snapshot = ready_snapshot()
    assert get(server, "/-/ready")[0].status == 200
    assert get(server, "/-/healthy")[0].status == 200


def test_status_page_escapes_and_shows_targets(served) -> None:
    server, holder = served
    holder.snapshot = ready_snapshot()
    response, body = get(server, "/")
    page = body.decode()
    assert response.status == 200
    assert response.getheader("Content-Type") == "text/html; charset=utf-8"
    assert "<script>" not in page
    assert "<img" not in page
    assert "<b>" not in page
    assert "prod &lt;b&gt;" in page
    assert "AccessDeniedException: &lt;img src=x&gt; denied" in page
    assert 'data-account-id="111111111111" data-region="us-east-1"' in page
    assert '<td class="up">up</td>' in page
    assert '<td class="down">down</td>' in page
    assert "1 (ACTIVE 0, INVITED 1, LEFT 0, REMOVED 0)" in page


def test_unknown_path_and_method(served) -> None:
    server, _ = served
    assert get(server, "/nope")[0].status == 404
    assert get(server, "/metrics", method="POST")[0].status == 405
    response, body = get(server, "/metrics", method="HEAD")
    assert response.status == 200
    assert body == b""


def test_post_body_is_consumed_so_keep_alive_stays_in_step(served) -> None:
    server, _ = served
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
    conn.request("POST", "/-/reload", body=b"x" * 1000)
    first = conn.getresponse()
    first.read()
    assert first.status == 405  # no reload hook in this server
    conn.request("GET", "/-/healthy")  # same connection: the body must not be read as a request
    second = conn.getresponse()
    assert (second.status, second.read()) == (200, b"Healthy\n")
    conn.close()


def test_a_body_of_many_parts_is_sent_whole_with_or_without_gzip() -> None:
    parts = [f"line {i} {'x' * (i % 97)}\n".encode() for i in range(20_000)]  # ~1.2 MB
    whole = b"".join(parts)
    server = ExporterServer(
        ("127.0.0.1", 0), WebApp(lambda _a, _n: (parts, "text/plain"), Snapshot)
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        plain_response, plain = get(server, "/metrics")
        zipped_response, zipped = get(server, "/metrics", Accept_Encoding="gzip")
    finally:
        server.shutdown()
        server.server_close()
    assert plain == whole
    assert int(plain_response.getheader("Content-Length")) == len(whole)
    assert gzip.decompress(zipped) == whole
    assert int(zipped_response.getheader("Content-Length")) == len(zipped) < len(whole) // 3


def test_writes_gather_parts_without_splitting_one() -> None:
    from exporter.web.server import batched

    parts = [b"a" * 10, b"b" * 30, b"c" * 100, b"d" * 5]
    assert list(batched(parts, 50)) == [b"a" * 10 + b"b" * 30, b"c" * 100, b"d" * 5]
    assert list(batched([], 50)) == []
