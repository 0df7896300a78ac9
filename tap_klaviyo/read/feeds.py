"""Fetch pages on worker threads, hand them over in order, keep memory bounded.

A feed is one producer's pages (one time slice, or one parent's children),
passed through a small queue. The consumer takes feeds strictly in the order
they were submitted and the workers start them in that order, so the feed
being read is always running: no feed can starve it, and a slow reader
simply makes the producers wait on their full queues.

Every wait here is bounded and watches the run's stop signal: once the run stops,
or the reader walks away from a feed, its producer is released and the worker
threads leave within a fraction of a second of their current request.
"""

from __future__ import annotations

import heapq
import itertools
import queue
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any, Generic, TypeVar

from tap_klaviyo.stopping import NEVER, Stop

T = TypeVar("T")

Page = list[dict[str, Any]]
Produce = Callable[[Callable[[Page], bool]], None]

_DONE = object()
_POLL_SECONDS = 0.1
# How long an idle worker sleeps between looks at the stop signal.
_IDLE_SECONDS = 0.25
# How long a worker waits for a task before it leaves.
_IDLE_EXIT_SECONDS = 10.0


class Workers:
    """A fixed number of daemon threads running tasks, lowest ``priority`` first.

    Not concurrent.futures' ThreadPoolExecutor: its threads are joined at interpreter
    exit, so a stopped tap would wait there for a request or a backoff to end. These
    leave once closed or once the run stops; a task is expected to return soon after
    either (it checks before each request). One idle for a while leaves too (a reader
    dropped without being closed leaves no thread behind); another starts when needed."""

    def __init__(self, count: int, name: str, stop: Stop = NEVER) -> None:
        self._count = max(1, count)
        self._name = name
        self._stop = stop
        self._tasks: list[tuple[Any, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._numbers = itertools.count()
        self._idle = 0
        self.closed = False

    def submit(self, priority: Any, task: Callable[[], None]) -> None:
        """Run ``task`` on a worker; it must not raise (hand errors to its reader)."""
        with self._cond:
            if self.closed:
                return
            heapq.heappush(self._tasks, (priority, next(self._order), task))
            # Idle workers take queued tasks only once they wake, so a batch submitted
            # while one is idle needs a thread for every task beyond the idle ones.
            if len(self._tasks) > self._idle and len(self._threads) < self._count:
                thread = threading.Thread(
                    target=self._work, name=f"{self._name}_{next(self._numbers)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
            # An idle worker takes a task as well, now rather than at its next look.
            self._cond.notify()

    def _work(self) -> None:
        while True:
            with self._cond:
                self._idle += 1
                idle_until = time.monotonic() + _IDLE_EXIT_SECONDS
                while not self._tasks and not self.closed and not self._stop.is_set:
                    if time.monotonic() > idle_until:
                        break
                    self._cond.wait(_IDLE_SECONDS)
                self._idle -= 1
                if self.closed or self._stop.is_set or not self._tasks:
                    self._threads.remove(threading.current_thread())
                    return
                _, _, task = heapq.heappop(self._tasks)
            task()

    def close(self) -> None:
        """Start nothing more; idle workers leave now, busy ones after their task."""
        with self._cond:
            self.closed = True
            self._tasks.clear()
            self._cond.notify_all()


class Schedule(Generic[T]):
    """Tasks the reader takes back in the order of their positions, run by the workers
    earliest first, so the one the reader waits for runs first. At most ``limit`` are
    submitted and not yet done with (and always the one the reader waits for): memory
    stays bounded whatever finishes first. A task added before one already submitted
    starts at once as long as fewer than twice ``limit`` are open: the reader needs it
    sooner than those, which may have used up the limit already (a slice split into
    pieces while the later slices were done and waiting would otherwise be read one
    piece at a time). A task's results must reach the reader through something of its
    own (a feed)."""

    def __init__(self, workers: Workers, limit: int, run: Callable[[T], None]) -> None:
        self._workers = workers
        self._limit = limit
        self._run = run
        self._lock = threading.Lock()
        self._untaken: list[tuple[Any, int, T]] = []
        self._unsent: list[tuple[Any, int, T]] = []
        self._sent: set[int] = set()
        self._open = 0
        self._order = itertools.count()
        self._latest: tuple[Any, int] | None = None  # the latest (position, number) sent

    def add(self, tasks: Iterable[tuple[Any, T]]) -> None:
        """Tasks at their positions (from any thread)."""
        with self._lock:
            for position, task in tasks:
                entry = (position, next(self._order), task)
                heapq.heappush(self._untaken, entry)
                heapq.heappush(self._unsent, entry)
            while self._unsent and (
                self._open < self._limit
                or (self._open < 2 * self._limit and self._before_latest(self._unsent[0]))
            ):
                self._send(heapq.heappop(self._unsent))

    def _before_latest(self, entry: tuple[Any, int, T]) -> bool:
        return self._latest is not None and entry[:2] < self._latest

    def _send(self, entry: tuple[Any, int, T]) -> None:
        position, number, task = entry
        if number not in self._sent:
            self._sent.add(number)
            self._open += 1
            if self._latest is None or (position, number) > self._latest:
                self._latest = (position, number)
            self._workers.submit(position, lambda: self._run(task))

    def next(self) -> T | None:
        """The task whose results come next, submitted now if it was not yet; None once
        every task added is taken."""
        with self._lock:
            if not self._untaken:
                return None
            entry = heapq.heappop(self._untaken)
            self._send(entry)
            return entry[2]

    def done(self) -> None:
        """The reader is done with the task ``next`` gave: another may start."""
        with self._lock:
            self._open -= 1
        self.add(())

    def close(self) -> list[T]:
        """Forget every task not yet taken; returns them."""
        with self._lock:
            untaken = [task for _, _, task in self._untaken]
            self._untaken.clear()
            self._unsent.clear()
            return untaken


class Feed:
    """The pages of one producer, in order, through a bounded queue."""

    def __init__(self, max_pages: int, stop: Stop = NEVER) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(max_pages)
        self._cancelled = threading.Event()
        self._stop = stop

    def put(self, item: Any) -> bool:
        """Hand over one item; False once the consumer has walked away."""
        while not self._cancelled.is_set():
            try:
                self._queue.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def finish(self) -> None:
        self.put(_DONE)

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def __iter__(self) -> Iterator[Any]:
        try:
            while True:
                try:
                    item = self._queue.get(timeout=_POLL_SECONDS)
                except queue.Empty:
                    self._stop.check()
                    continue
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            # Read to the end, failed, or abandoned by its reader (closed part-way):
            # either way the producer must not wait on this queue any longer.
            self.cancel()


class FeedPool:
    """Runs producers on a fixed number of threads; hands their feeds out in order."""

    def __init__(
        self, workers: int, max_pages: int = 4, name: str = "feed", stop: Stop = NEVER
    ) -> None:
        self._workers = Workers(workers, name, stop)
        self._feeds: OrderedDict[Hashable, Feed] = OrderedDict()
        # Feeds whose producers have not finished, taken or not: close() releases them.
        self._live: set[Feed] = set()
        self._max_pages = max_pages
        self._stop = stop
        self._lock = threading.Lock()
        self._order = itertools.count()

    def submit(self, key: Hashable, produce: Produce) -> None:
        feed = Feed(self._max_pages, self._stop)

        def run() -> None:
            try:
                if not feed.cancelled:
                    produce(feed.put)
            except BaseException as exc:  # handed to the reader, raised there
                feed.put(exc)
                return
            else:
                feed.finish()
            finally:
                with self._lock:
                    self._live.discard(feed)

        with self._lock:
            self._feeds[key] = feed
            self._live.add(feed)
        self._workers.submit(next(self._order), run)

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
            for feed in [*self._feeds.values(), *self._live]:
                feed.cancel()
            self._feeds.clear()
            self._live.clear()
        self._workers.close()


def in_order(
    items: Iterable[T | None],
    start: Callable[[T], Any],
    depth: int,
    stop: Stop = NEVER,
) -> Iterator[Any]:
    """``start(item)`` for each item, up to ``depth`` ahead, results in item order.

    ``start`` returns a result or a Future; a ``None`` item passes through as a
    marker, in its place.
    """
    ahead: deque[Any] = deque()

    def settle(entry: Any) -> Any:
        if not isinstance(entry, Future):
            return entry
        while not wait([entry], _IDLE_SECONDS, FIRST_COMPLETED).done:
            stop.check()
        return entry.result()

    iterator = iter(items)
    while True:
        try:
            item = next(iterator)
            ahead.append(None if item is None else start(item))
        except StopIteration:
            break
        except Exception:
            # Results already under way come out before the error: the pages fetched
            # before a failure are written, and the bookmark keeps them.
            while ahead:
                yield settle(ahead.popleft())
            raise
        while len(ahead) > depth:
            yield settle(ahead.popleft())
    while ahead:
        yield settle(ahead.popleft())
