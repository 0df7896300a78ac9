"""One stream's read path without the tap: serial pages, a stale cursor restarted from
the resumed bounds, forbidden and gone contexts skipped, children prefetched on worker
threads, time slices in parallel. Klaviyo is played by a small collection whose filter
is judged by the simulator's filter engine."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgspec
import pytest
import requests

from klaviyo_sim.filters import parse_filter
from tap_klaviyo.dates import parse_datetime, utc_iso
from tap_klaviyo.errors import KlaviyoAPIError
from tap_klaviyo.read.pages import KlaviyoPaginator
from tap_klaviyo.read.query import Query
from tap_klaviyo.read.reader import Reader
from tap_klaviyo.spec import Operation
from tap_klaviyo.stopping import RunStopped, Stop

URL = "https://a.klaviyo.com/api/things"
START = datetime(2024, 1, 1, tzinfo=timezone.utc)
END = datetime(2024, 2, 1, tzinfo=timezone.utc)
PAGE_SIZE = 3

OPERATION = Operation(
    operation_id="get_things",
    method="GET",
    path="/api/things",
    resource_type="thing",
    scopes=("things:read",),
    filters={
        "updated": {"operators": {"single": ["greater-or-equal", "less-than"]}},
        "list_id": {"operators": {"single": ["equals"]}},
    },
    sort=("updated",),
    include=(),
    additional_fields={},
    page_size_max=PAGE_SIZE,
    burst_per_second=10,
    steady_per_minute=100,
    daily=None,
    conditional_limits=(),
    query_params=(),
)
QUERY = Query(OPERATION, "updated", context_filters={"list_id": "list_id"})

STALE = KlaviyoAPIError("cursor expired", 400, {"page[cursor]"})
FORBIDDEN = KlaviyoAPIError("Stream 'things' needs the API key scope(s) things:read", 403, set())
GONE = KlaviyoAPIError("list not found", 404, set())

Refuse = Callable[[dict[str, str], int], KlaviyoAPIError | None]


class Api:
    """A sorted collection: filters evaluated as Klaviyo would, pages by cursor."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records = sorted(records, key=lambda r: (r["updated"], r["id"]))
        self.sent: list[dict[str, str]] = []
        self.threads: list[str] = []
        self.refuse: Refuse = lambda query, number: None
        self._lock = threading.Lock()

    def send(self, prepared: requests.PreparedRequest) -> requests.Response:
        query = {k: v[0] for k, v in parse_qs(urlsplit(prepared.url or "").query).items()}
        with self._lock:
            self.sent.append(query)
            self.threads.append(threading.current_thread().name)
            number = len(self.sent)
        error = self.refuse(query, number)
        if error is not None:
            raise error
        conditions = parse_filter(query["filter"]) if "filter" in query else []
        matching = [r for r in self.records if all(c.matches([r.get(c.field)]) for c in conditions)]
        size = int(query["page[size]"])
        offset = int(query.get("page[cursor]", 0))
        following = None
        if offset + size < len(matching):
            following = (
                requests.Request("GET", URL, params={**query, "page[cursor]": offset + size})
                .prepare()
                .url
            )
        response = requests.Response()
        response.status_code = 200
        response.url = prepared.url or ""
        response._content = msgspec.json.encode(
            {"data": matching[offset : offset + size], "links": {"next": following}}
        )
        return response

    def ids(self, start: datetime | None = START, list_id: str | None = None) -> list[str]:
        return [
            r["id"]
            for r in self.records
            if (start is None or parse_datetime(r["updated"]) >= start)
            and parse_datetime(r["updated"]) < END
            and (list_id is None or r["list_id"] == list_id)
        ]


def request_for(context: Any, token: Any, params: dict[str, Any] | None) -> Any:
    url = token.geturl() if token is not None else URL
    return requests.Request("GET", url, params=params).prepare()


def decode(
    response: requests.Response, start: datetime | None, end: datetime | None
) -> list[dict[str, Any]]:
    return msgspec.json.decode(response.content)["data"]


def reader(api: Api, **options: Any) -> Reader:
    settings: dict[str, Any] = {
        "stream": "things",
        "logger": logging.getLogger("tap-test"),
        "query": QUERY,
        "workers": 1,
        "ignore_forbidden": False,
        "is_child": False,
        "parallel_slices": False,
        **options,
    }
    return Reader(
        send=api.send,
        request_for=request_for,
        next_token=KlaviyoPaginator().get_next,
        decode=decode,
        **settings,
    )


class Bounds:
    """The stream's run bounds, recording each call; a resumed read starts at
    ``progress``."""

    def __init__(self, progress: datetime | None = None) -> None:
        self.calls: list[tuple[Any, bool]] = []
        self.progress = progress

    def __call__(self, context: Any, resume: bool) -> tuple[datetime | None, datetime]:
        self.calls.append((context, resume))
        return (self.progress if resume else START), END


def things(count: int, list_id: str = "L1", first: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "id": f"{list_id}-{n:03d}",
            "list_id": list_id,
            "updated": utc_iso(START + timedelta(hours=n)),
        }
        for n in range(first, first + count)
    ]


def ids(pages: list[list[dict[str, Any]]]) -> list[str]:
    return [record["id"] for page in pages for record in page]


def test_pages_follow_the_cursor_within_the_run_bounds() -> None:
    early = {"id": "early", "list_id": "L1", "updated": "2023-12-31T23:59:59+00:00"}
    late = {"id": "late", "list_id": "L1", "updated": utc_iso(END)}
    api = Api([*things(8), early, late])
    bounds = Bounds()
    pages = list(reader(api).pages(None, bounds))
    assert [len(page) for page in pages] == [3, 3, 2]
    assert ids(pages) == [f"L1-{n:03d}" for n in range(8)]
    assert bounds.calls == [(None, False)]
    assert api.sent[0] == {
        "filter": "and(greater-or-equal(updated,2024-01-01T00:00:00+00:00),"
        "less-than(updated,2024-02-01T00:00:00+00:00))",
        "sort": "updated",
        "page[size]": "3",
    }
    assert [q.get("page[cursor]") for q in api.sent] == [None, "3", "6"]


def test_a_stale_cursor_restarts_from_the_resumed_bounds(caplog: pytest.LogCaptureFixture) -> None:
    api = Api(things(8))
    # The second page's cursor is refused, once.
    api.refuse = lambda query, number: STALE if number == 2 else None
    # The read resumes from the last record it emitted (the third).
    bounds = Bounds(progress=START + timedelta(hours=2))
    with caplog.at_level(logging.WARNING):
        pages = list(reader(api).pages(None, bounds))
    assert bounds.calls == [(None, False), (None, True)]
    assert ids(pages) == [f"L1-{n:03d}" for n in (0, 1, 2, 2, 3, 4, 5, 6, 7)]
    restart = api.sent[2]
    assert "page[cursor]" not in restart
    assert restart["filter"].startswith("and(greater-or-equal(updated,2024-01-01T02:00:00+00:00)")
    assert [r.getMessage() for r in caplog.records] == [
        "Stream 'things': Klaviyo rejected a page cursor; restarting from the last bookmark"
    ]


def test_a_forbidden_stream_is_skipped_when_allowed(caplog: pytest.LogCaptureFixture) -> None:
    api = Api(things(4) + things(4, "L2"))
    api.refuse = lambda query, number: FORBIDDEN
    read = reader(api, is_child=True, ignore_forbidden=True, workers=2)
    with caplog.at_level(logging.WARNING):
        assert list(read.pages({"list_id": "L1"}, Bounds())) == []
    assert read.forbidden
    # The rest of the stream is skipped without asking again.
    read.prefetch({"list_id": "L2"}, Bounds())
    assert list(read.pages({"list_id": "L2"}, Bounds())) == []
    assert len(api.sent) == 1
    assert [r.getMessage() for r in caplog.records] == [
        "Skipping stream: Stream 'things' needs the API key scope(s) things:read"
    ]
    read.close()


def test_a_forbidden_stream_fails_unless_allowed() -> None:
    api = Api(things(4))
    api.refuse = lambda query, number: FORBIDDEN
    with pytest.raises(KlaviyoAPIError) as caught:
        list(reader(api).pages(None, Bounds()))
    assert caught.value is FORBIDDEN


def test_a_gone_parent_skips_only_its_own_children() -> None:
    api = Api(things(4) + things(5, "L2"))
    api.refuse = lambda query, number: GONE if "'L1'" in query["filter"] else None
    read = reader(api, is_child=True)
    assert list(read.pages({"list_id": "L1"}, Bounds())) == []
    assert ids(list(read.pages({"list_id": "L2"}, Bounds()))) == api.ids(list_id="L2")
    assert not read.forbidden


def test_children_are_prefetched_on_worker_threads() -> None:
    api = Api(things(7) + things(4, "L2"))
    read = reader(api, is_child=True, workers=2)
    bounds = Bounds()
    try:
        read.prefetch({"list_id": "L1"}, bounds)
        read.prefetch({"list_id": "L2"}, bounds)
        read.prefetch({"list_id": "L1"}, bounds)  # already under way: nothing new
        first = list(read.pages({"list_id": "L1"}, bounds))
        second = list(read.pages({"list_id": "L2"}, bounds))
    finally:
        read.close()
    assert ids(first) == api.ids(list_id="L1")
    assert ids(second) == api.ids(list_id="L2")
    # 3 pages of L1 and 2 of L2, each fetched once, none on the reading thread.
    assert len(api.sent) == 5
    assert all(name.startswith("things-prefetch") for name in api.threads)
    assert bounds.calls == [({"list_id": "L1"}, False), ({"list_id": "L2"}, False)]


def test_a_stale_cursor_in_a_prefetched_feed_restarts_on_the_reading_thread() -> None:
    api = Api(things(8))
    api.refuse = lambda query, number: STALE if number == 2 else None
    read = reader(api, is_child=True, workers=2)
    bounds = Bounds(progress=START + timedelta(hours=2))
    try:
        read.prefetch({"list_id": "L1"}, bounds)
        pages = list(read.pages({"list_id": "L1"}, bounds))
    finally:
        read.close()
    assert ids(pages) == [f"L1-{n:03d}" for n in (0, 1, 2, 2, 3, 4, 5, 6, 7)]
    assert bounds.calls[-1] == ({"list_id": "L1"}, True)
    assert api.threads[-1] == threading.current_thread().name


def test_a_reader_without_workers_or_parent_does_not_prefetch() -> None:
    for options in ({"is_child": True, "workers": 1}, {"is_child": False, "workers": 4}):
        api = Api(things(4))
        read = reader(api, **options)
        read.prefetch({"list_id": "L1"}, Bounds())
        assert api.sent == []
        assert ids(list(read.pages({"list_id": "L1"}, Bounds()))) == api.ids()
        assert set(api.threads) == {threading.current_thread().name}


def test_time_slices_only_with_workers_and_an_endpoint_that_can_bound_both_sides() -> None:
    api = Api([])
    assert reader(api, parallel_slices=True, workers=4).slices
    assert not reader(api, parallel_slices=True, workers=1).slices
    assert not reader(api, parallel_slices=False, workers=4).slices
    unsorted = Query(dataclasses.replace(OPERATION, sort=()), "updated")
    assert not reader(api, parallel_slices=True, workers=4, query=unsorted).slices


def test_time_slices_read_every_record_once_in_order() -> None:
    # Ten days an hour apart, then a dense hour: slices of different sizes.
    dense = [
        {
            "id": f"d{n:03d}",
            "list_id": "L1",
            "updated": utc_iso(START + timedelta(days=12, seconds=n)),
        }
        for n in range(60)
    ]
    api = Api(things(240) + dense)
    pages = list(reader(api, parallel_slices=True, workers=4).pages(None, Bounds()))
    assert ids(pages) == api.ids()
    # Slices went out on worker threads, several of them at once.
    assert len({name for name in api.threads if name.startswith("things-window")}) > 1


def test_time_slices_stop_with_the_run() -> None:
    api = Api(things(240))
    stop = Stop()

    def stall(query: dict[str, str], number: int) -> KlaviyoAPIError | None:
        if number > 2:
            stop.wait(30)  # as the HTTP client's backoff does: given up once the run stops
            raise RunStopped(stop.reason)
        return None

    api.refuse = stall
    read = reader(api, parallel_slices=True, workers=4, stop=stop)
    threading.Timer(0.2, stop.set, args=("the tap was told to stop",)).start()
    with pytest.raises(RunStopped, match="told to stop"):
        list(read.pages(None, Bounds()))
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and any(
        t.name.startswith("things-window") for t in threading.enumerate()
    ):
        time.sleep(0.02)
    assert not [t.name for t in threading.enumerate() if t.name.startswith("things-window")]


def test_the_first_page_sent_early_is_the_reads_own() -> None:
    api = Api(things(240))
    body_ran = threading.Event()
    in_time: list[bool] = []

    def wait_for_the_body(query: dict[str, str], number: int) -> None:
        if number == 1:
            in_time.append(body_ran.wait(5))  # sent while the body (a lookup) runs

    api.refuse = wait_for_the_body
    read = reader(api, parallel_slices=True, workers=4)
    with read.early(Bounds()):
        body_ran.set()
    # Over by the time ``early`` returns, on a thread of its own.
    assert in_time == [True] and api.threads == ["things-first-page"]
    pages = list(read.pages(None, Bounds()))
    assert ids(pages) == api.ids()
    # The read took that response: its first query was not sent a second time.
    assert [q for q in api.sent if "page[cursor]" not in q].count(api.sent[0]) == 1


def test_an_early_first_page_that_failed_fails_the_read_as_its_own_would() -> None:
    api = Api(things(240))
    api.refuse = lambda query, number: FORBIDDEN if number == 1 else None
    read = reader(api, parallel_slices=True, workers=4)
    with read.early(Bounds()):
        pass
    with pytest.raises(KlaviyoAPIError, match="needs the API key scope"):
        list(read.pages(None, Bounds()))


def test_no_early_page_for_reads_without_slices_or_for_other_bounds() -> None:
    api = Api(things(40))
    serial = reader(api, workers=4)
    with serial.early(Bounds()):
        pass
    assert api.sent == []  # a serial read's first request would be its whole first page
    # A read whose bounds moved since (a restarted read) sends its own first request.
    read = reader(api, parallel_slices=True, workers=4)
    with read.early(Bounds()):
        pass
    later = START + timedelta(days=3)
    pages = list(read.pages(None, lambda context, resume: (later, END)))
    assert ids(pages) == api.ids(start=later)
