"""Fetch pages on worker threads, hand them over in order, keep memory bounded.

A feed is one producer's pages (one time window, or one parent's children),
passed through a small queue. The consumer takes feeds strictly in the order
they were submitted and the executor starts them in that order, so the feed
being read is always running: no feed can starve it, and a slow reader
simply makes the producers wait on their full queues.
"""

from __future__ import annotations

import queue
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

Page = list[dict[str, Any]]
Produce = Callable[[Callable[[Page], bool]], None]

_DONE = object()
_POLL_SECONDS = 0.1


class Feed:
    """The pages of one producer, in order, through a bounded queue."""

    def __init__(self, max_pages: int) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(max_pages)
        self._cancelled = threading.Event()

    def put(self, item: Any) -> bool:
        """Hand over one item; False once the consumer has walked away."""
        while not self._cancelled.is_set():
            try:
                self._queue.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def cancel(self) -> None:
        self._cancelled.set()

    def __iter__(self) -> Iterator[Page]:
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item


class FeedPool:
    """Runs producers on a fixed number of threads; hands their feeds out in order."""

    def __init__(self, workers: int, max_pages: int = 4, name: str = "feed") -> None:
        self._executor = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix=name)
        self._feeds: OrderedDict[Hashable, Feed] = OrderedDict()
        self._max_pages = max_pages
        self._lock = threading.Lock()

    def submit(self, key: Hashable, produce: Produce) -> None:
        feed = Feed(self._max_pages)

        def run() -> None:
            try:
                produce(feed.put)
            except BaseException as exc:  # handed to the reader, raised there
                feed.put(exc)
                return
            feed.put(_DONE)

        with self._lock:
            self._feeds[key] = feed
        self._executor.submit(run)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._feeds

    def __len__(self) -> int:
        with self._lock:
            return len(self._feeds)

    def take(self, key: Hashable) -> Feed | None:
        """The feed for ``key``; feeds submitted before it and never taken are
        abandoned (their records were filtered out), so they are cancelled."""
        with self._lock:
            if key not in self._feeds:
                return None
            while True:
                first, feed = self._feeds.popitem(last=False)
                if first == key:
                    return feed
                feed.cancel()

    def close(self) -> None:
        with self._lock:
            for feed in self._feeds.values():
                feed.cancel()
            self._feeds.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)


def in_order(
    items: Iterable[T | None],
    start: Callable[[T], Any],
    depth: int,
) -> Iterator[Any]:
    """``start(item)`` for each item, up to ``depth`` ahead, results in item order.

    ``start`` returns a result or a Future; a ``None`` item passes through as a
    marker, in its place.
    """
    ahead: deque[Any] = deque()

    def settle(entry: Any) -> Any:
        return entry.result() if isinstance(entry, Future) else entry

    for item in items:
        ahead.append(None if item is None else start(item))
        while len(ahead) > depth:
            yield settle(ahead.popleft())
    while ahead:
        yield settle(ahead.popleft())
