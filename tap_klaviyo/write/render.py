"""Pages turned into Singer RECORD lines in worker processes.

One Python thread turns a few tens of thousands of records a second into
Singer messages, which is less than Klaviyo lets events be fetched. A fork of
the tap made before any thread starts holds the same streams, schemas and
checks: it takes a page's raw body and gives back the page's RECORD lines and
the replication-key values the bookmark needs, so the tap's own process only
fetches, writes in order and keeps the state. The lines are the ones the tap
would write itself.
"""

from __future__ import annotations

import heapq
import itertools
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class RenderedPage:
    """A page's records as Singer lines; ``marks`` are the rows that move the bookmark,
    holding only the replication key."""

    lines: bytes
    count: int
    marks: list[dict[str, Any]] = field(default_factory=list)
    # Schema changes the page's records needed (write/widen.py), adopted before its lines.
    widenings: list[Any] = field(default_factory=list)

    def __len__(self) -> int:
        return self.count


# The forked processes find the streams here: they inherit them, nothing is pickled.
_streams: dict[str, Any] = {}


def _start_child(parent: int) -> None:
    # Only the tap's own process writes Singer messages; a fork holding stdout open
    # would keep a target waiting for the end of the stream after the tap is gone.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the tap's own process handles Ctrl-C
    # The tap's pid comes from before the fork: a tap killed before this runs has
    # already made the worker an orphan, and its getppid() would name the adopter.
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()


def _exit_with(parent: int) -> None:
    # A killed tap never shuts its pool down, and each worker holds the other end of
    # its own task pipe, so none would see it close: they leave when orphaned.
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def _render(stream_name: str, lookups: dict[str, dict] | None, *args: Any) -> RenderedPage:
    stream = _streams[stream_name]
    if lookups:
        # Looked up after the fork (the metrics' names, on the stream's own thread): the
        # copy this process inherited has none.
        stream.deriver.maps = lookups
    return stream.renderer.render_body(*args)


def can_fork() -> bool:
    """Whether worker processes can inherit the tap (not on Windows)."""
    return "fork" in multiprocessing.get_all_start_methods()


def default_processes() -> int:
    # The process that fetches and writes mostly waits on sockets: one renderer per
    # core keeps every core busy (measured: 2 beat 1 on a 2-core machine).
    return min(4, os.cpu_count() or 1) if can_fork() else 0


# Ranks in the pool's queue: pages the writer is about to write, then pages rendered ahead.
_NOW, _AHEAD = 0, 1


@dataclass(order=True)
class _Job:
    rank: tuple[int, int]
    stream_name: str = field(compare=False)
    args: tuple[Any, ...] = field(compare=False)
    future: Future[RenderedPage] = field(compare=False)
    owner: object = field(compare=False, default=None)
    lookups: dict[str, dict] | None = field(compare=False, default=None)


class RenderPool:
    """Worker processes rendering pages for the tap's streams.

    Pages are queued by rank: those the writer asked for (a few pages ahead of the one it
    writes) first, in the order asked, and pages fetched further ahead whenever fewer
    renders than processes are under way. A writer waiting on a slow piece (a bulk
    import's second, read through one cursor) would otherwise leave every page fetched
    after it to render once it is written, a second or more after the last fetch; the
    idle processes render them meanwhile, and a page asked for goes before them all.
    """

    def __init__(self, streams: dict[str, Any], processes: int) -> None:
        _streams.clear()
        _streams.update(streams)
        self.processes = processes
        self._pool = ProcessPoolExecutor(
            processes,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_start_child,
            initargs=(os.getpid(),),
        )
        # With fork, every process is started at the first submit, before the pool's
        # own thread: call it now, while this is still the only thread.
        self._pool.submit(int).result()
        self._lock = threading.Lock()
        self._queue: list[_Job] = []
        self._running = 0
        self._order = itertools.count()

    def submit(
        self,
        stream_name: str,
        *args: Any,
        ahead: bool = False,
        owner: object = None,
        lookups: dict[str, dict] | None = None,
    ) -> Future[RenderedPage]:
        """A page's render, queued at its rank; ``owner`` may ``drop`` it while queued;
        ``lookups``: the maps the stream's derived columns look values up in."""
        rank = (_AHEAD if ahead else _NOW, next(self._order))
        job = _Job(rank, stream_name, args, Future(), owner, lookups)
        with self._lock:
            heapq.heappush(self._queue, job)
        self._pump()
        return job.future

    def needed(self, future: Future[RenderedPage]) -> None:
        """The writer is about to write a page queued ahead: it goes first."""
        with self._lock:
            # A scan: the queue holds at most the pages held in memory, and this runs
            # once a page.
            job = next((job for job in self._queue if job.future is future), None)
            if job is not None and job.rank[0] == _AHEAD:
                job.rank = (_NOW, next(self._order))
                heapq.heapify(self._queue)
        self._pump()

    def drop(self, owner: object) -> None:
        """Cancel ``owner``'s renders not yet handed to a process (its read is over)."""
        with self._lock:
            dropped = [job for job in self._queue if job.owner is owner]
            self._queue = [job for job in self._queue if job.owner is not owner]
            heapq.heapify(self._queue)
        for job in dropped:
            job.future.cancel()

    def _pump(self) -> None:
        # Twice as many renders as processes keep every process busy between results;
        # pages rendered ahead only take a process that would otherwise be idle.
        while True:
            with self._lock:
                if not self._queue:
                    return
                limit = self.processes * (2 if self._queue[0].rank[0] == _NOW else 1)
                if self._running >= limit:
                    return
                job = heapq.heappop(self._queue)
                self._running += 1
            try:
                inner = self._pool.submit(_render, job.stream_name, job.lookups, *job.args)
            except BaseException as exc:  # a broken or closed pool: the writer raises it
                with self._lock:
                    self._running -= 1
                job.future.set_exception(exc)
                continue
            inner.add_done_callback(lambda done, outer=job.future: self._finished(done, outer))

    def _finished(self, inner: Future[RenderedPage], outer: Future[RenderedPage]) -> None:
        with self._lock:
            self._running -= 1
        if outer.cancelled():
            pass  # its holder gave up on it (setting a result would raise and stall the queue)
        elif inner.cancelled():
            outer.cancel()
        elif inner.exception() is not None:
            outer.set_exception(inner.exception())
        else:
            outer.set_result(inner.result())
        self._pump()

    def renders_for(
        self,
        stream_name: str,
        version: int | None,
        context: Mapping[str, Any] | None,
        lookups: dict[str, dict] | None = None,
    ) -> Renders:
        """How one context's fetched pages go to the workers, with the maps its derived
        columns look values up in."""
        return Renders(self, stream_name, version, dict(context) if context else None, lookups)

    def close(self) -> None:
        with self._lock:
            queued, self._queue = self._queue, []
        for job in queued:
            job.future.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)


class Renders:
    """One context's pages rendered in the pool (read/slices.py's ``PageRenders``)."""

    def __init__(
        self,
        pool: RenderPool,
        stream_name: str,
        version: int | None,
        partition: dict[str, Any] | None,
        lookups: dict[str, dict] | None = None,
    ) -> None:
        self.pool = pool
        self.stream_name = stream_name
        self.version = version
        self.partition = partition
        self.lookups = lookups
        # Pages ahead of the one being written whose renders the writer asks for.
        self.depth = 2 * pool.processes

    def now(
        self, response: Any, start: datetime | None, end: datetime, cut: datetime | None = None
    ) -> Future[RenderedPage]:
        return self._submit(response, start, end, cut, ahead=False)

    def ahead(
        self, response: Any, start: datetime | None, end: datetime, cut: datetime | None = None
    ) -> Future[RenderedPage]:
        return self._submit(response, start, end, cut, ahead=True)

    def needed(self, future: Future[RenderedPage]) -> None:
        self.pool.needed(future)

    def drop(self) -> None:
        self.pool.drop(self)

    @staticmethod
    def size(rendered: RenderedPage) -> int:
        return len(rendered.lines)

    def _submit(
        self,
        response: Any,
        start: datetime | None,
        end: datetime,
        cut: datetime | None,
        *,
        ahead: bool,
    ) -> Future[RenderedPage]:
        return self.pool.submit(
            self.stream_name,
            response.content,
            response.url,
            start,
            end,
            self.version,
            self.partition,
            cut,
            ahead=ahead,
            owner=self,
            lookups=self.lookups,
        )
