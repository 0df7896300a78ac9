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

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
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


def _render(stream_name: str, *args: Any) -> RenderedPage:
    return _streams[stream_name].renderer.render_body(*args)


def can_fork() -> bool:
    """Whether worker processes can inherit the tap (not on Windows)."""
    return "fork" in multiprocessing.get_all_start_methods()


def default_processes() -> int:
    # The process that fetches and writes mostly waits on sockets: one renderer per
    # core keeps every core busy (measured: 2 beat 1 on a 2-core machine).
    return min(4, os.cpu_count() or 1) if can_fork() else 0


class RenderPool:
    """Worker processes rendering pages for the tap's streams."""

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

    def submit(self, stream_name: str, *args: Any) -> Future[RenderedPage]:
        return self._pool.submit(_render, stream_name, *args)

    def renders_for(
        self, stream_name: str, version: int | None, context: Mapping[str, Any] | None
    ) -> tuple[Callable[..., Future[RenderedPage]], int]:
        """How one context's fetched pages go to the workers, and how many pages
        ahead of the one being written they may render."""
        partition = dict(context) if context else None

        def render(
            response: Any, start: datetime, end: datetime, cut: datetime | None = None
        ) -> Future[RenderedPage]:
            return self.submit(
                stream_name, response.content, response.url, start, end, version, partition, cut
            )

        return render, 2 * self.processes

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
