"""The status page renderer: invitations oldest first, failing targets, reload state."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from types import MappingProxyType

from exporter.collectors.collaborations import Collaboration, PollData
from exporter.core.model import CollectorState, PollError, Snapshot, Target
from exporter.web.statuspage import PageContext, ReloadRecorder, ReloadState, render_status_page

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
T = NOW.timestamp()
DAY, HOUR = 86400.0, 3600.0


def collab(cid: str, status: str, created: float, creator: str = "444444444444", name: str = ""):
    return Collaboration(
        id=cid,
        name=name or f"collab {cid}",
        creator_account_id=creator,
        creator_display_name=f"Creator {creator[:3]}",
        member_status=status,
        membership_id="" if status == "INVITED" else f"m-{cid}",
        create_time=created,
        update_time=created,
    )


def state(account: str, region: str, collaborations=(), up=True, error=None) -> CollectorState:
    counts: dict[str, int] = {}
    for c in collaborations:
        counts[c.member_status] = counts.get(c.member_status, 0) + 1
    return CollectorState(
        target=Target(account, region, "prod" if account == "111111111111" else ""),
        data=PollData(tuple(collaborations), counts, None),
        up=up,
        polled=True,
        consecutive_failures=0 if up else 4,
        last_success=T - 600,
        last_error=error,
    )


def snapshot(*states: CollectorState) -> Snapshot:
    return Snapshot(MappingProxyType({s.target.key: s for s in states}), primary="collaborations")


class Tables(HTMLParser):
    """Rows of each table by id, as lists of cell texts; also checks the markup is balanced."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.row_attrs: dict[str, list[dict[str, str]]] = {}
        self.scripts = 0
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "script":
            self.scripts += 1
        if tag == "table":
            self._table = values.get("id", "")
            self.tables[self._table] = []
            self.row_attrs[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
            self.row_attrs[self._table].append(values)
        elif tag == "td":
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None and self._table is not None:
            self.tables[self._table][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data + " ")


def parse(page: str) -> Tables:
    tables = Tables()
    tables.feed(page)
    for rows in tables.tables.values():
        rows[:] = [r for r in rows if r]  # drop header rows (th only)
    return tables


def test_pending_invitations_oldest_first_across_targets_with_trust_and_age() -> None:
    page = render_status_page(
        snapshot(
            state(
                "111111111111",
                "us-east-1",
                [
                    collab("c-new", "INVITED", T - 2 * HOUR - 300, creator="999999999999"),
                    collab("c-act", "ACTIVE", T - 9 * DAY),
                ],
            ),
            state(
                "222222222222", "eu-west-2", [collab("c-old", "INVITED", T - 3 * DAY - 4 * HOUR)]
            ),
            state("333333333333", "us-east-1", [collab("c-min", "INVITED", T - 125)]),
        ),
        PageContext(trusted_creators=("444444444444",)),
        now=NOW,
    )
    tables = parse(page)
    rows = tables.tables["invitations"]
    assert [r[0] for r in rows] == ["3d 4h", "2h 5m", "2m"]
    assert [a["data-collaboration-id"] for a in tables.row_attrs["invitations"][1:]] == [
        "c-old",
        "c-new",
        "c-min",
    ]
    assert rows[0] == [
        "3d 4h",
        "collab c-old c-old",
        "444444444444",
        "Creator 444",
        "trusted",
        "222222222222",
        "eu-west-2",
    ]
    assert rows[1][2:5] == ["999999999999", "Creator 999", "untrusted"]
    assert rows[1][5] == "111111111111 (prod)"
    assert tables.scripts == 0
    assert "<span>3 pending invitations</span>" in page


def test_without_a_trusted_list_trust_is_not_checked() -> None:
    page = render_status_page(
        snapshot(state("111111111111", "us-east-1", [collab("c1", "INVITED", T - HOUR)])), now=NOW
    )
    (row,) = parse(page).tables["invitations"]
    assert row[4] == "not checked"
    assert "No trusted_creator_accounts configured." in page


def test_no_invitations_and_no_failures_say_so() -> None:
    page = render_status_page(snapshot(state("111111111111", "us-east-1")), now=NOW)
    assert "No pending invitations." in page
    assert "Every polled target is up." in page
    assert "invitations" not in parse(page).tables


def test_failing_targets_list_their_last_error_and_keep_their_last_invitations() -> None:
    error = PollError("ListCollaborations", "AccessDeniedException", "<img src=x> not allowed")
    page = render_status_page(
        snapshot(
            state("111111111111", "us-east-1"),
            state(
                "222222222222",
                "eu-west-2",
                [collab("c1", "INVITED", T - DAY)],
                up=False,
                error=error,
            ),
        ),
        now=NOW,
    )
    tables = parse(page)
    (failing,) = tables.tables["failing"]
    assert failing == [
        "222222222222",
        "eu-west-2",
        "collaborations",
        "4",
        "2026-03-01 11:50:00 UTC",
        "ListCollaborations",
        "AccessDeniedException",
        "<img src=x> not allowed",
    ]
    assert "<img" not in page
    (invitation,) = tables.tables["invitations"]
    assert invitation[0] == "1d 0h (as of the last good poll)"
    assert "1 failing" in page


def test_reload_state_shows_the_file_and_the_last_failure() -> None:
    failed = ReloadState(
        "/etc/cleanrooms-exporter/config.yaml",
        successful=False,
        last_success=T - HOUR,
        last_attempt=T - 60,
        last_message="invalid configuration in /etc/x.yaml: concurrency: <0>",
    )
    page = render_status_page(snapshot(), PageContext(reload=failed), now=NOW)
    section = re.search(r'<p id="reload">(.*?)</p>', page, re.S)
    assert section
    text = section[1]
    assert "File /etc/cleanrooms-exporter/config.yaml" in text
    assert "last reload failed; the previous configuration runs" in text
    assert "Last successful load 2026-03-01 11:00:00 UTC" in text
    assert "Last reload 2026-03-01 11:59:00 UTC" in text
    assert "concurrency: &lt;0&gt;" in text
    ok = ReloadState("c.yaml", successful=True, last_success=T - HOUR)
    assert '<span class="ok">loaded</span>' in render_status_page(
        snapshot(), PageContext(reload=ok)
    )
    assert "no reload" in render_status_page(snapshot(), PageContext(reload=None))


def test_reload_recorder_remembers_the_last_answer() -> None:
    answers = iter([(False, "bad file"), (True, "reloaded: 3 targets")])
    recorder = ReloadRecorder(lambda: next(answers), clock=lambda: 42.0)
    assert recorder.last is None
    assert recorder() == (False, "bad file")
    assert recorder.last == (42.0, "bad file")
    recorder()
    assert recorder.last == (42.0, "reloaded: 3 targets")


def test_failing_targets_name_the_collector_that_fails() -> None:
    target = Target("111111111111", "us-east-1", "prod")
    error = PollError("ListMembers", "AccessDeniedException", "no")
    members = CollectorState(
        target, polled=True, up=False, consecutive_failures=2, last_error=error
    )
    page = render_status_page(
        Snapshot(
            MappingProxyType({target.key: CollectorState(target, polled=True, up=True)}),
            MappingProxyType({"members": {target.key: members}}),
            "collaborations",
        ),
        now=NOW,
    )
    (row,) = parse(page).tables["failing"]
    assert row[:4] == ["111111111111 (prod)", "us-east-1", "members", "2"]
    assert row[-2:] == ["AccessDeniedException", "no"]
