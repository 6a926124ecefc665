"""The status page renderer: the summary, invitations, failing targets and collectors, reload."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from types import MappingProxyType

import jinja2
import pytest

from exporter.collectors.collaborations import Collaboration, PollData
from exporter.core.model import CollectorState, PollError, Snapshot, Target
from exporter.web import statuspage
from exporter.web.attention import LISTED
from exporter.web.statuspage import (
    SHOWN,
    PageContext,
    ReloadRecorder,
    ReloadState,
    render_status_page,
)

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
    """Rows of each kind of table (by its class), shown and folded, as lists of cell texts.

    Also counts scripts and the counts of the summary line (data-what -> data-count).
    """

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.row_attrs: dict[str, list[dict[str, str]]] = {}
        self.summary: dict[str, tuple[int, str]] = {}  # data-what -> (count, severity)
        self.scripts = 0
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "script":
            self.scripts += 1
        if tag == "span" and "data-what" in values:
            severity = values["class"].split()[-1]
            self.summary[values["data-what"]] = (int(values["data-count"]), severity)
        if tag == "table":
            self._table = values.get("class", "")
            self.tables.setdefault(self._table, [])
            self.row_attrs.setdefault(self._table, [])
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
    for name, rows in tables.tables.items():
        kept = [i for i, r in enumerate(rows) if r]  # drop header rows (th only)
        tables.tables[name] = [rows[i] for i in kept]
        tables.row_attrs[name] = [tables.row_attrs[name][i] for i in kept]
    return tables


def test_pending_invitations_untrusted_first_then_oldest_with_trust_and_age() -> None:
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
    assert [a["data-collaboration-id"] for a in tables.row_attrs["invitations"]] == [
        "c-new",  # untrusted: the one to look at
        "c-old",
        "c-min",
    ]
    assert [r[1] for r in rows] == ["2h 5m", "3d 4h", "2m"]
    assert rows[1] == [
        "collab c-old c-old",  # the name first, then the id
        "3d 4h",
        "Creator 444 444444444444",
        "trusted",
        "222222222222",
        "eu-west-2",
    ]
    assert rows[0][2:5] == ["Creator 999 999999999999", "untrusted", "prod 111111111111"]
    assert tables.scripts == 0
    assert tables.summary["pending"] == (3, "info")
    assert tables.summary["untrusted"] == (1, "action")  # red: it needs someone to act


def test_without_a_trusted_list_trust_is_not_checked() -> None:
    page = render_status_page(
        snapshot(state("111111111111", "us-east-1", [collab("c1", "INVITED", T - HOUR)])), now=NOW
    )
    (row,) = parse(page).tables["invitations"]
    assert row[3] == "not checked"
    assert "No trusted_creator_accounts configured." in page
    assert "untrusted" not in parse(page).summary


def test_no_invitations_and_no_failures_say_so() -> None:
    page = render_status_page(snapshot(state("111111111111", "us-east-1")), now=NOW)
    assert "No pending invitations." in page
    assert "Every polled target and collector is up." in page
    assert "invitations" not in parse(page).tables
    summary = parse(page).summary
    assert summary["nothing"] == (0, "ok")
    assert summary["failing-targets"] == (0, "info")  # zero is not red


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
    assert invitation[1] == "1d 0h (as of the last good poll)"
    assert tables.summary["failing-targets"] == (1, "action")
    # The failing target leads the targets table.
    assert [a["data-account-id"] for a in tables.row_attrs["targets"]] == [
        "222222222222",
        "111111111111",
    ]


def test_reload_state_shows_the_file_and_the_last_failure() -> None:
    failed = ReloadState(
        "/etc/cleanrooms-exporter/config.yaml",
        successful=False,
        last_success=T - HOUR,
        last_attempt=T - 60,
        last_message="invalid configuration in /etc/x.yaml: concurrency: <0>\nsecond problem",
    )
    page = render_status_page(snapshot(), PageContext(reload=failed), now=NOW)
    section = re.search(r'<p id="reload">(.*?)</p>', page, re.S)
    assert section
    text = section[1]
    assert "File /etc/cleanrooms-exporter/config.yaml" in text
    assert "last reload failed; the previous configuration runs" in text
    assert "Last successful load 2026-03-01 11:00:00 UTC" in text
    assert "Last reload 2026-03-01 11:59:00 UTC" in text
    assert "concurrency: &lt;0&gt;<br>second problem" in text  # each problem on its line
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


def test_a_failing_collector_is_counted_although_its_target_is_up() -> None:
    # Against moto the summary said "0 failing" in green while this table listed members.
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
    tables = parse(page)
    (row,) = tables.tables["failing"]
    assert row[:4] == ["prod 111111111111", "us-east-1", "members", "2"]
    assert row[-2:] == ["AccessDeniedException", "no"]
    assert tables.summary["failing-targets"] == (0, "info")
    assert tables.summary["failing-collectors"] == (1, "action")
    assert "nothing" not in tables.summary
    assert "1 collector failing</span>" in page


def test_a_hostile_collaboration_name_is_escaped_by_the_template() -> None:
    hostile = "<script>alert(1)</script>\"'&"
    page = render_status_page(
        snapshot(
            state(
                "111111111111",
                "us-east-1",
                [collab("c1", "INVITED", T - HOUR, name=hostile, creator=hostile)],
            )
        ),
        now=NOW,
    )
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&#39;&amp;" in page
    assert parse(page).scripts == 0
    (row,) = parse(page).tables["invitations"]
    assert row[0] == f"{hostile} c1"  # shown as text


def test_long_tables_show_a_few_rows_and_fold_the_rest_under_and_n_more() -> None:
    invitations = [collab(f"c{i:03d}", "INVITED", T - i * HOUR) for i in range(LISTED + 7)]
    page = render_status_page(snapshot(state("111111111111", "us-east-1", invitations)), now=NOW)
    shown, folded = page.split('<details class="more">', 1)
    assert shown.count('<tr data-collaboration-id="') == SHOWN
    assert folded.count('<tr data-collaboration-id="') == LISTED - SHOWN
    assert f"and {LISTED + 7 - SHOWN} more invitations</summary>" in page
    assert '<p class="meta unlisted" data-count="7">7 more not listed here' in page
    rows = parse(page).row_attrs["invitations"]
    assert [r["data-collaboration-id"] for r in rows][:2] == [
        f"c{LISTED + 6:03d}",
        f"c{LISTED + 5:03d}",
    ]  # oldest first


def test_the_templates_escape_everything_and_refuse_an_unknown_value() -> None:
    environment = statuspage.TEMPLATES
    assert environment.autoescape is True
    with pytest.raises(jinja2.UndefinedError):
        environment.get_template("page.html").render()  # no value quietly renders as ""
