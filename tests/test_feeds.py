"""Feeds: pages come out in submission order, buffering stays bounded, abandoned and
failed producers never hang the reader."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from tap_klaviyo.read.feeds import Feed, FeedPool, Schedule, Workers, in_order
from tap_klaviyo.stopping import RunStopped, Stop


def producer(pages: int, produced: list[int], tag: str = "", delay: float = 0.0) -> Any:
    def produce(put: Any) -> None:
        for number in range(pages):
            if delay:
                time.sleep(delay)
            if not put([f"{tag}{number}"]):
                return
            produced.append(number)

    return produce


def test_feeds_come_out_in_submission_order_whatever_finishes_first() -> None:
    pool = FeedPool(workers=3)
    for key, delay in enumerate([0.05, 0.0, 0.02]):
        pool.submit(key, producer(3, [], tag=f"{key}-", delay=delay))
    out = [item for key in range(3) for page in pool.take(key) for item in page]
    pool.close()
    assert out == [f"{k}-{n}" for k in range(3) for n in range(3)]


def test_a_slow_reader_keeps_the_producer_waiting() -> None:
    produced: list[int] = []
    pool = FeedPool(workers=1, max_pages=2)
    pool.submit("k", producer(50, produced))
    feed = pool.take("k")
    time.sleep(0.3)
    # Two pages wait in the queue and one is held by the blocked producer.
    assert len(produced) <= 2
    assert len(list(feed)) == 50
    pool.close()


def test_an_abandoned_feed_is_cancelled_so_later_feeds_get_a_thread() -> None:
    pool = FeedPool(workers=1, max_pages=1)
    first: list[int] = []
    pool.submit("skipped", producer(1000, first))
    pool.submit("wanted", producer(3, []))
    # Taking "wanted" abandons "skipped", whose producer must give up its only thread.
    pages = list(pool.take("wanted"))
    assert len(pages) == 3
    assert len(first) < 1000
    pool.close()


def test_a_producer_error_reaches_the_reader() -> None:
    def broken(put: Any) -> None:
        put(["one"])
        raise RuntimeError("Klaviyo went away")

    pool = FeedPool(workers=2)
    pool.submit(0, broken)
    feed = pool.take(0)
    with pytest.raises(RuntimeError, match="went away"):
        list(feed)
    pool.close()


def test_close_releases_blocked_producers() -> None:
    pool = FeedPool(workers=2, max_pages=1)
    pool.submit(0, producer(1000, []))
    pool.submit(1, producer(1000, []))
    time.sleep(0.1)
    before = threading.active_count()
    pool.close()
    deadline = time.monotonic() + 2
    while threading.active_count() >= before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() < before


def test_a_taken_feed_the_reader_abandons_releases_its_producer() -> None:
    finished = threading.Event()
    pages_made = producer(1000, [])

    def produce(put: Any) -> None:
        try:
            pages_made(put)
        finally:
            finished.set()

    pool = FeedPool(workers=1, max_pages=1)
    pool.submit("k", produce)
    feed = pool.take("k")
    assert feed is not None
    pages = iter(feed)
    next(pages)
    pages.close()  # e.g. the record after this page failed its schema check
    pool.close()
    try:
        stopped = finished.wait(timeout=2)
    finally:
        # The producer would otherwise keep this test process from exiting.
        feed.cancel()
    assert stopped


def named(prefix: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(prefix)]


def test_workers_are_daemon_threads_that_leave_when_the_run_stops() -> None:
    stop = Stop()
    workers = Workers(3, "stoppable", stop)
    ran = threading.Event()
    for n in range(3):
        workers.submit(n, ran.set)
    assert ran.wait(2)
    assert named("stoppable") and all(t.daemon for t in named("stoppable"))
    stop.set("test")
    deadline = time.monotonic() + 2
    while named("stoppable") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert named("stoppable") == []


def test_tasks_submitted_while_a_worker_is_idle_all_run_at_once() -> None:
    # A time slice's task hands its followers over in one batch while other workers
    # sit idle: every one of them must get a thread of its own, up to the count.
    workers = Workers(8, "batch")
    warm = threading.Event()
    workers.submit(0, warm.set)
    assert warm.wait(2)
    time.sleep(0.05)  # the first worker is idle now
    together = threading.Barrier(8, timeout=5)
    met: list[int] = []

    def task(n: int) -> None:
        together.wait()
        met.append(n)

    for n in range(8):
        workers.submit(n, lambda n=n: task(n))
    deadline = time.monotonic() + 6
    while len(met) < 8 and time.monotonic() < deadline:
        time.sleep(0.02)
    workers.close()
    assert sorted(met) == list(range(8)), "fewer than 8 tasks ran at the same time"


def test_an_idle_worker_leaves_and_another_starts_when_needed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("tap_klaviyo.read.feeds._IDLE_EXIT_SECONDS", 0.1)
    workers = Workers(2, "idle")  # never closed, as by a reader dropped part-way
    ran = threading.Event()
    workers.submit(0, ran.set)
    assert ran.wait(2)
    deadline = time.monotonic() + 2
    while named("idle") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert named("idle") == []
    again = threading.Event()
    workers.submit(0, again.set)
    assert again.wait(2)
    workers.close()


def test_a_reader_waiting_on_a_feed_stops_with_the_run() -> None:
    stop = Stop()
    feed = Feed(2, stop)
    threading.Timer(0.2, stop.set, args=("tap told to stop",)).start()
    with pytest.raises(RunStopped, match="tap told to stop"):
        list(feed)
    # The reader is gone: a producer's put gives up instead of waiting.
    assert not feed.put(["late page"])


def test_in_order_stops_waiting_on_a_future_once_the_run_stops() -> None:
    stop = Stop()
    never: Future[Any] = Future()
    threading.Timer(0.2, stop.set, args=("stopping",)).start()
    with pytest.raises(RunStopped):
        list(in_order([1], lambda item: never, depth=0, stop=stop))


def test_a_schedule_hands_tasks_back_by_position_with_few_submitted() -> None:
    ran: list[str] = []
    lock = threading.Lock()

    def run(task: str) -> None:
        with lock:
            ran.append(task)

    def settled(count: int) -> list[str]:
        deadline = time.monotonic() + 2
        while len(ran) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.05)  # nothing more starts
        return sorted(ran)

    workers = Workers(2, "scheduled")
    schedule: Schedule[str] = Schedule(workers, limit=2, run=run)
    schedule.add([(5, "e"), (1, "a"), (3, "c")])
    assert settled(2) == ["a", "c"]  # the earliest two; "e" waits for room
    assert schedule.next() == "a"
    schedule.add([(4, "d")])  # after "c", the latest submitted: it waits for room
    assert settled(2) == ["a", "c"]
    schedule.add([(2, "b")])  # before "c": the reader needs it first, so it starts now
    assert settled(3) == ["a", "b", "c"]
    schedule.done()  # done with "a": "b" and "c" fill the limit, so "d" waits
    assert settled(3) == ["a", "b", "c"]
    assert schedule.next() == "b"
    schedule.done()
    assert settled(4) == ["a", "b", "c", "d"]
    assert schedule.next() == "c"  # the one the reader waits for is already submitted
    assert schedule.next() == "d"
    assert schedule.next() == "e"  # over the limit, submitted because the reader waits
    assert settled(5) == ["a", "b", "c", "d", "e"]
    assert schedule.next() is None
    workers.close()


def test_tasks_before_the_latest_submitted_start_up_to_twice_the_limit() -> None:
    started: list[int] = []
    release = threading.Event()
    lock = threading.Lock()

    def run(task: int) -> None:
        with lock:
            started.append(task)
        release.wait(5)

    workers = Workers(8, "twice")
    schedule: Schedule[int] = Schedule(workers, limit=2, run=run)
    schedule.add([(100, 100), (200, 200)])
    schedule.add([(n, n) for n in range(1, 6)])  # all before 200; room for two more
    deadline = time.monotonic() + 2
    while len(started) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    assert sorted(started) == [1, 2, 100, 200]
    release.set()
    workers.close()


def test_in_order_gives_results_in_item_order_with_markers_in_place() -> None:
    started: list[str] = []

    def start(item: str) -> str:
        started.append(item)
        return item.upper()

    assert list(in_order(["a", None, "b", "c", None], start, depth=1)) == [
        "A",
        None,
        "B",
        "C",
        None,
    ]
    assert started == ["a", "b", "c"]


def test_in_order_waits_on_futures_that_finish_out_of_order() -> None:
    delays = {"slow": 0.2, "fast": 0.0, "mid": 0.1}
    with ThreadPoolExecutor(3) as executor:
        results = in_order(
            ["slow", "fast", "mid"],
            lambda item: executor.submit(lambda: time.sleep(delays[item]) or item),
            depth=3,
        )
        assert list(results) == ["slow", "fast", "mid"]


def test_in_order_gives_the_results_under_way_before_an_error_of_the_items() -> None:
    def items() -> Any:
        yield from range(3)
        raise RuntimeError("the feed failed")

    def start(item: int) -> Future[int]:
        done: Future[int] = Future()
        done.set_result(item * 10)
        return done

    results = in_order(items(), start, depth=5)
    assert [next(results) for _ in range(3)] == [0, 10, 20]
    with pytest.raises(RuntimeError, match="the feed failed"):
        next(results)


def test_in_order_starts_at_most_depth_items_ahead() -> None:
    started: list[int] = []

    def start(item: int) -> int:
        started.append(item)
        return item

    results = in_order(range(10), start, depth=2)
    assert next(results) == 0
    # The first result goes out once three are started: it and two ahead of it.
    assert started == [0, 1, 2]
    assert list(results) == list(range(1, 10))
