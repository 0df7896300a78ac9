"""Running the tap's top-level streams: a few at a time on daemon threads, in a given
order. The first fatal error, or a request to stop (SIGTERM, Ctrl-C), stops them all:
each stream ends at its next request or page, and after ``GRACE_SECONDS`` the run ends
whatever is still waiting on the network (daemon threads never hold the exit up)."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from tap_klaviyo.stopping import RunStopped, Stop

# How long streams get, once the run is stopping, to reach a request or page boundary.
GRACE_SECONDS = 5.0


class StreamRunner:
    def __init__(
        self,
        streams: Sequence[Any],
        workers: int,
        stop: Stop,
        logger: logging.Logger,
        finished: Callable[[Any], None] = lambda stream: None,
    ) -> None:
        self._waiting = deque(streams)
        # Told of each stream that ended, however it ended.
        self._finished = finished
        self._workers = max(1, min(workers, len(streams)))
        self._stop = stop
        self._logger = logger
        self._done = threading.Condition()
        self._running = 0
        self.error: BaseException | None = None

    def run(self) -> BaseException | None:
        """Sync every stream; the first fatal error, if any (the run stops at it)."""
        self._running = self._workers
        for number in range(self._workers):
            threading.Thread(target=self._work, name=f"stream-{number}", daemon=True).start()
        stopped_at: float | None = None
        with self._done:
            while self._running:
                self._done.wait(0.2)
                if self._stop.is_set:
                    stopped_at = stopped_at or time.monotonic()
                    if time.monotonic() - stopped_at > GRACE_SECONDS:
                        self._logger.warning(
                            "%d stream(s) still waiting on Klaviyo %.0f s after the run began "
                            "to stop; leaving them",
                            self._running,
                            GRACE_SECONDS,
                        )
                        break
        return self.error

    def _work(self) -> None:
        try:
            while not self._stop.is_set:
                with self._done:
                    if not self._waiting:
                        return
                    stream = self._waiting.popleft()
                try:
                    stream.sync()
                    stream.finalize_state_progress_markers()
                except RunStopped:
                    return
                except BaseException as exc:  # the first one stops the run
                    with self._done:
                        if self.error is None:
                            self.error = exc
                    self._stop.set(str(exc))
                    return
                finally:
                    release = getattr(stream, "release_workers", None)
                    if release is not None:
                        release()
                    self._finished(stream)
        finally:
            with self._done:
                self._running -= 1
                self._done.notify_all()
