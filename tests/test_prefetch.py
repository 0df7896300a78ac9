"""Child prefetch: a context's pages are fetched ahead on worker threads and taken by
context, contexts never taken are cancelled."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from tap_klaviyo.read.prefetch import Prefetcher, context_key


def test_context_key_ignores_order_and_value_types() -> None:
    assert context_key({"list_id": "L1", "n": 2}) == context_key({"n": "2", "list_id": "L1"})
    assert context_key({"list_id": "L1"}) != context_key({"list_id": "L2"})
    assert context_key(None) == context_key({}) == ()


def pages_of(name: str, count: int, threads: set[str] | None = None) -> Any:
    def produce(put: Callable[[Any], bool]) -> None:
        if threads is not None:
            threads.add(threading.current_thread().name)
        for number in range(count):
            if not put(f"{name}-{number}"):
                return

    return produce


def test_a_context_is_fetched_on_a_worker_and_taken_by_its_context() -> None:
    prefetcher = Prefetcher(workers=2, name="list_members")
    threads: set[str] = set()
    try:
        prefetcher.start({"list_id": "L1"}, pages_of("L1", 3, threads))
        prefetcher.start({"list_id": "L2"}, pages_of("L2", 2, threads))
        assert {"list_id": "L1"} in prefetcher
        assert {"list_id": "L3"} not in prefetcher
        first = prefetcher.take({"list_id": "L1"})
        assert first is not None and list(first) == ["L1-0", "L1-1", "L1-2"]
        second = prefetcher.take({"list_id": "L2"})
        assert second is not None and list(second) == ["L2-0", "L2-1"]
        # Taken once: a context taken again is read some other way.
        assert prefetcher.take({"list_id": "L1"}) is None
    finally:
        prefetcher.close()
    assert threads and all(name.startswith("list_members-prefetch") for name in threads)


def test_contexts_started_before_the_one_taken_are_cancelled() -> None:
    prefetcher = Prefetcher(workers=1, name="list_members")
    made: list[str] = []

    def counting(put: Callable[[Any], bool]) -> None:
        for number in range(10_000):
            if not put(number):
                return
            made.append(number)

    try:
        # One worker: the skipped context must give its thread up for the next one.
        prefetcher.start({"list_id": "filtered-out"}, counting)
        prefetcher.start({"list_id": "L2"}, pages_of("L2", 2))
        taken = prefetcher.take({"list_id": "L2"})
        assert taken is not None and list(taken) == ["L2-0", "L2-1"]
        assert {"list_id": "filtered-out"} not in prefetcher
        assert len(made) < 10_000
    finally:
        prefetcher.close()
