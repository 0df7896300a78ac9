"""Client-side rate limiting that keeps every request inside Klaviyo's quotas.

Klaviyo counts requests per account and endpoint in a 1 s burst window and a
60 s steady window. A sliding log of send times per window never lets more
than the quota leave in any interval of that length, so the fixed windows the
server uses can never be exceeded by this process alone.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

# Sends are spread a little wider than the window so clock skew and network
# jitter between us and Klaviyo cannot squeeze one request too many into a window:
# 5%, plus a fixed allowance for one request being delayed on its way while the
# next is not (it matters for 1-second windows of endpoints allowing 1-3 a second).
_WINDOW_MARGIN = 1.05
_JITTER_SECONDS = 0.2
BURST_SHARE = 0.8


def window_seconds(seconds: float) -> float:
    """How long this process treats a window of ``seconds`` as lasting."""
    return seconds * _WINDOW_MARGIN + _JITTER_SECONDS


class SlidingWindow:
    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = max(1, limit)
        self.seconds = window_seconds(seconds)
        self._sent: deque[float] = deque()

    def wait_time(self, now: float) -> float:
        while self._sent and now - self._sent[0] >= self.seconds:
            self._sent.popleft()
        if len(self._sent) < self.limit:
            return 0.0
        return self.seconds - (now - self._sent[0])

    def record(self, now: float) -> None:
        self._sent.append(now)


class RateLimiter:
    """Blocks callers until a request fits every window of one endpoint."""

    def __init__(
        self,
        burst_per_second: int | None,
        steady_per_minute: int | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        # Requests bunch up on their way when the server is busy, far more within a
        # second than within a minute: the burst window keeps a fifth of its quota spare.
        burst = max(1, int(burst_per_second * BURST_SHARE)) if burst_per_second else None
        self.windows = [
            SlidingWindow(limit, seconds)
            for limit, seconds in ((burst, 1.0), (steady_per_minute, 60.0))
            if limit
        ]
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._blocked_until = 0.0

    def acquire(self) -> float:
        """Wait for a free slot, record the send and return the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                delay = max([self._blocked_until - now] + [w.wait_time(now) for w in self.windows])
                if delay <= 0:
                    for window in self.windows:
                        window.record(now)
                    return waited
            self._sleep(delay)
            waited += delay

    def block_for(self, seconds: float) -> None:
        """Hold every caller back, e.g. for a 429's ``Retry-After``."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._clock() + seconds)


class RateLimiterRegistry:
    """One limiter per (account, endpoint) in this process, shared by all streams."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._limiters: dict[tuple[str, str], RateLimiter] = {}
        self._lock = threading.Lock()
        # Limiters made from now on use these: tests swap in a virtual clock whose
        # sleep only moves time forward, so minutes of quota pass in milliseconds.
        self.clock = clock
        self.sleep = sleep

    def reset(self) -> None:
        """Forget every limiter (tests start from empty windows)."""
        with self._lock:
            self._limiters.clear()

    def get(
        self,
        account: str,
        endpoint: str,
        burst_per_second: int | None,
        steady_per_minute: int | None,
    ) -> RateLimiter:
        key = (account, endpoint)
        with self._lock:
            if key not in self._limiters:
                self._limiters[key] = RateLimiter(
                    burst_per_second, steady_per_minute, clock=self.clock, sleep=self.sleep
                )
            return self._limiters[key]


LIMITERS = RateLimiterRegistry()
