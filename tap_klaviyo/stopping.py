"""One run's stop signal: set on the first fatal error or when the tap is told to stop
(SIGTERM, Ctrl-C). Every loop that waits (a backoff, a rate-limit window, a full
queue, a slice scheduler) waits on it, so a stopped run ends within seconds."""

from __future__ import annotations

import threading


class RunStopped(BaseException):
    """Raised in a worker once the run is stopping; never the reason the run failed.
    Not an ``Exception``: handlers meant for failures (the SDK logs "An unhandled
    error occurred" for those) let it pass."""


class Stop:
    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    def set(self, reason: str) -> bool:
        """Stop the run; True for the first call (whose reason is kept)."""
        if self._event.is_set():
            return False
        self.reason = reason
        self._event.set()
        return True

    @property
    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True when the run is stopping (wakes at once)."""
        return self._event.wait(max(0.0, seconds))

    def check(self) -> None:
        if self._event.is_set():
            raise RunStopped(self.reason)


# For code run outside a tap (tests, benchmarks' helpers): never set.
NEVER = Stop()
