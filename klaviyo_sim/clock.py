"""A clock for the simulator's rate-limit windows that only moves when someone sleeps:
tests share one with the tap, so that minutes of quota pass at once."""

from __future__ import annotations

import threading


class VirtualClock:
    """Monotonic seconds that only move when someone sleeps."""

    def __init__(self) -> None:
        self.now = 10_000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            # At least a millisecond: adding less to 10^4 can round to nothing.
            self.now += max(seconds, 0.001)
