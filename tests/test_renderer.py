"""A stream's pages as finished rows and RECORD lines, the same whether the tap's own
process or a worker process renders them."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Any

import msgspec

from tap_klaviyo.write.lines import ExtractionClock
from tap_klaviyo.write.renderer import PageRenderer
from tap_klaviyo.write.widen import EvolvingSchema, RecordCheck

SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": ["string"]},
        "metric_id": {"type": ["string", "null"]},
        "datetime": {"type": ["string", "null"], "format": "date-time"},
        "value": {"type": ["number", "null"]},
    },
}
START = datetime(2024, 1, 1, tzinfo=timezone.utc)
END = datetime(2024, 2, 1, tzinfo=timezone.utc)


class FixedClock(ExtractionClock):
    def now(self) -> str:
        return "2024-06-01T00:00:00+00:00"


def decode(content: bytes, url: str, start: datetime | None, end: datetime | None) -> Any:
    # What the stream's decoding does: records of the page, cut to [start, end).
    return [
        r
        for r in msgspec.json.decode(content)["data"]
        if (start is None or r["datetime"] >= start.isoformat())
        and (end is None or r["datetime"] < end.isoformat())
    ]


def renderer(bookmark_key: str | None = "datetime") -> PageRenderer:
    schema = EvolvingSchema(
        "events",
        SCHEMA,
        install=lambda schema: None,
        send=lambda schema: None,
        logger=logging.getLogger("tap-test"),
    )
    check = RecordCheck("events", SCHEMA, "id", "datetime", schema.widened)
    return PageRenderer(
        "events",
        decode=decode,
        # A row the stream's check returns None for is left out.
        check=lambda row, partition: None if row.get("value") == -1 else check(row),
        widenings=schema.drain,
        bookmark_key=bookmark_key,
        clock=FixedClock(),
    )


PAGE = [
    {"id": "e1", "datetime": "2024-01-02T00:00:00Z", "value": 1, "extra": "x"},
    {"id": "e2", "datetime": "2024-01-03T00:00:00+00:00", "metric_id": "own"},
    {"id": "e3", "datetime": "2024-01-04T00:00:00+00:00", "value": -1},
    {"id": "e4", "datetime": "2024-01-05T00:00:00+00:00"},
]


def page() -> list[dict[str, Any]]:
    return [dict(record) for record in PAGE]


def test_finished_rows_are_checked_canonical_and_partitioned() -> None:
    rows = renderer().finished_rows(page(), {"metric_id": "M"})
    assert rows == [
        # The replication key in its one canonical form; `extra`, which the schema
        # lacks, is kept (the schema widens to take it).
        {
            "id": "e1",
            "datetime": "2024-01-02T00:00:00+00:00",
            "value": 1,
            "extra": "x",
            "metric_id": "M",
        },
        # A record's own value wins over its partition's.
        {"id": "e2", "datetime": "2024-01-03T00:00:00+00:00", "metric_id": "own"},
        {"id": "e4", "datetime": "2024-01-05T00:00:00+00:00", "metric_id": "M"},
    ]


def test_finished_rows_without_a_partition_add_nothing() -> None:
    rows = renderer().finished_rows(page(), None)
    assert [sorted(row) for row in rows] == [
        ["datetime", "extra", "id", "value"],
        ["datetime", "id", "metric_id"],
        ["datetime", "id"],
    ]


def test_a_record_that_does_not_fit_widens_the_schema_and_the_page_says_so() -> None:
    here = renderer()
    bad = [{"id": "e9", "datetime": "2024-01-02T00:00:00Z", "value": "high"}]
    rows = here.finished_rows(bad, None)
    assert rows == [{"id": "e9", "datetime": "2024-01-02T00:00:00+00:00", "value": "high"}]
    page = here.render(rows, version=None)
    assert [(w.path, w.kind) for w in page.widenings] == [(("value",), "string")]
    # The change travels with the page that needed it, once.
    assert here.render(rows, version=None).widenings == []


def test_render_writes_record_lines_and_marks_the_bookmark_rows() -> None:
    rows = renderer().finished_rows(page(), None)
    rendered = renderer().render(rows, version=5)
    messages = [json.loads(line) for line in rendered.lines.splitlines()]
    assert [m["record"] for m in messages] == rows
    assert {(m["type"], m["stream"], m["version"]) for m in messages} == {("RECORD", "events", 5)}
    assert {m["time_extracted"] for m in messages} == {"2024-06-01T00:00:00+00:00"}
    assert rendered.count == 3
    assert rendered.marks == [{"datetime": rows[0]["datetime"]}, {"datetime": rows[-1]["datetime"]}]
    # A stream without a bookmark (full table) marks nothing.
    assert renderer(bookmark_key=None).render(rows, version=None).marks == []


def test_render_body_is_render_of_finished_rows_of_the_decoded_page() -> None:
    content = msgspec.json.encode({"data": PAGE})
    url = "https://a.klaviyo.com/api/events"
    start, end = START.replace(day=3), END
    partition = {"metric_id": "M"}
    in_worker = renderer().render_body(content, url, start, end, 5, partition)
    here = renderer()
    in_tap = here.render(here.finished_rows(decode(content, url, start, end), partition), 5)
    assert in_worker == in_tap
    # The page's bounds reached the decoding: e1 is before `start`.
    assert in_worker.count == 2
