"""Pages to Singer lines and state: the bookmark moves only past records written."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from tap_klaviyo.tap import TapKlaviyo
from tap_klaviyo.write.render import RenderedPage
from tap_klaviyo.write.sink import (
    PageSink,
    bookmark_rows,
    render_rows,
    state_snapshot,
)


def test_a_page_moves_the_bookmark_through_its_first_and_last_record(tap: TapKlaviyo) -> None:
    # The first still meets the SDK's sort check, the last sets the bookmark; a page out
    # of order (or with a null key) goes record by record so the SDK judges each one.
    key = tap.streams["profiles"].replication_key
    ordered = [{"updated": f"2024-01-0{day}T00:00:00+00:00"} for day in (1, 2, 2, 3)]
    assert bookmark_rows(ordered, key) == [ordered[0], ordered[-1]]
    shuffled = [ordered[1], ordered[0], ordered[3]]
    assert bookmark_rows(shuffled, key) == shuffled
    with_null = [ordered[0], {"updated": None}, ordered[3]]
    assert bookmark_rows(with_null, key) == with_null
    assert bookmark_rows(ordered[:1], key) == ordered[:1]


class Recorder:
    """The writer and the stream's callbacks, recording in one log what happens when."""

    def __init__(self) -> None:
        self.log: list[Any] = []

    def write_lines(self, lines: bytes) -> None:
        self.log.append(("lines", lines))

    def sink(self, state_every: int) -> PageSink:
        return PageSink(
            self,  # type: ignore[arg-type]
            state_every=state_every,
            advance=lambda row, partition: self.log.append(("advance", row, partition)),
            write_state=lambda: self.log.append("STATE"),
            unflushed=lambda: self.log.append("unflushed"),
        )


def page_of(count: int, first: int = 0) -> RenderedPage:
    rows = [
        {"id": f"r{n}", "updated": f"2024-01-01T00:00:{n:02d}+00:00"}
        for n in range(first, first + count)
    ]
    return render_rows("tags", rows, version=None, key="updated", time_extracted="t")


def test_lines_are_written_before_the_bookmark_moves_past_them() -> None:
    recorder = Recorder()
    page = page_of(3)
    assert recorder.sink(state_every=1000).write(page, {"metric_id": "m"}) == 3
    assert recorder.log == [
        ("lines", page.lines),
        "unflushed",
        ("advance", {"updated": "2024-01-01T00:00:00+00:00"}, {"metric_id": "m"}),
        ("advance", {"updated": "2024-01-01T00:00:02+00:00"}, {"metric_id": "m"}),
    ]


def test_a_state_goes_out_each_time_the_count_crosses_state_every() -> None:
    recorder = Recorder()
    sink = recorder.sink(state_every=3)
    states = []
    for count in (2, 2, 2, 7, 1):
        sink.write(page_of(count), None)
        states.append(recorder.log.count("STATE"))
    # 2, 4 (crosses 3), 6 (crosses 6), 13 (crosses 9 and 12: one STATE), 14.
    assert states == [0, 1, 2, 3, 3]
    assert sink.written == 14
    # Each STATE comes after the bookmark moved past the page that crossed.
    log = recorder.log
    assert all(log[i - 1][0] == "advance" for i, entry in enumerate(log) if entry == "STATE")


def test_an_empty_page_writes_nothing() -> None:
    recorder = Recorder()
    assert recorder.sink(state_every=1).write(RenderedPage(b"", 0), None) == 0
    assert recorder.log == []


def test_render_rows_makes_record_lines_and_bookmark_marks() -> None:
    rows = [
        {"id": "a", "updated": "2024-01-01T00:00:00+00:00", "n": 2**70},
        {"id": "b", "updated": "2024-01-02T00:00:00+00:00", "n": Decimal("0.10")},
        {"id": "c", "updated": "2024-01-03T00:00:00+00:00", "n": None},
    ]
    page = render_rows("tags", rows, version=7, key="updated", time_extracted="2024-06-01")
    assert page.count == 3 and len(page) == 3
    assert [json.loads(line) for line in page.lines.splitlines()] == [
        {
            "type": "RECORD",
            "stream": "tags",
            "record": row,
            "version": 7,
            "time_extracted": "2024-06-01",
        }
        for row in [{**rows[0]}, {**rows[1], "n": 0.1}, rows[2]]
    ]
    # Exact numbers: the big integer and the decimal's digits as Klaviyo sent them.
    assert b'"n":1180591620717411303424' in page.lines and b'"n":0.10' in page.lines
    assert page.marks == [{"updated": rows[0]["updated"]}, {"updated": rows[2]["updated"]}]
    unversioned = render_rows("tags", rows[:1], version=None, key=None, time_extracted="t")
    assert b'"version"' not in unversioned.lines and unversioned.marks == []
    assert render_rows("tags", [], version=7, key="updated", time_extracted="t") == RenderedPage(
        b"", 0
    )


def test_state_snapshot_is_a_deep_copy() -> None:
    state = {
        "bookmarks": {
            "events": {
                "partitions": [{"context": {"metric_id": "m"}, "replication_key_value": "v"}]
            }
        },
        "count": 2**70,
    }
    snapshot = state_snapshot(state)
    assert snapshot == state
    state["bookmarks"]["events"]["partitions"][0]["replication_key_value"] = "later"
    state["bookmarks"]["profiles"] = {}
    assert snapshot["bookmarks"]["events"]["partitions"][0]["replication_key_value"] == "v"
    assert "profiles" not in snapshot["bookmarks"]
