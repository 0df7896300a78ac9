"""Client-side rate limiting that keeps every request inside Klaviyo's quotas.

Klaviyo counts requests per account and endpoint in a 1 s burst window and a
60 s steady window. Each window here remembers, for every request of the last
window's length, when its response came back: a request reaches Klaviyo before
its answer does, so "at most N requests answered in the last second, counting
those still in flight" never lets N + 1 land in any second on Klaviyo's side,
however the network delays them. (A log of send times cannot promise that: a
request held up on its way lands in the next window with the ones sent after it.)
"""

from __future__ import annotations

import hashlib
import threading
from collections import deque
from collections.abc import Callable

from tap_klaviyo import spec
from tap_klaviyo.dates import CLOCK
from tap_klaviyo.settings import Settings
from tap_klaviyo.stopping import NEVER, Stop

# Klaviyo's and this machine's clocks may tick at slightly different rates.
_WINDOW_MARGIN = 1.01
_CLOCK_SLACK_SECONDS = 0.05
# Below float noise: a wait this short would not move a clock reading forward.
_EPSILON = 1e-6
# Waits are cut into pieces this long when a run may stop, so a stop is noticed.
_STOP_POLL_SECONDS = 0.5


def window_seconds(seconds: float) -> float:
    """How long this process treats a window of ``seconds`` as lasting."""
    return seconds * _WINDOW_MARGIN + _CLOCK_SLACK_SECONDS


class SlidingWindow:
    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = max(1, limit)
        self.seconds = window_seconds(seconds)
        self.in_flight = 0
        self._answered: deque[float] = deque()  # ascending: recorded under one lock

    def wait_time(self, now: float) -> float | None:
        """Seconds until a request may be sent; None while only an answer frees a slot."""
        while self._answered and now - self._answered[0] >= self.seconds - _EPSILON:
            self._answered.popleft()
        excess = self.in_flight + len(self._answered) - self.limit + 1
        if excess <= 0:
            return 0.0
        if excess > len(self._answered):
            return None
        return self.seconds - (now - self._answered[excess - 1])

    def answered(self, now: float) -> None:
        self.in_flight -= 1
        self._answered.append(now)


class RateLimiter:
    """Blocks callers until a request fits every window of one endpoint.

    Each ``acquire`` must be followed by one ``release`` once the request is over,
    answered or not.
    """

    def __init__(
        self,
        burst_per_second: int | None,
        steady_per_minute: int | None,
        *,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.windows = [
            SlidingWindow(limit, seconds)
            for limit, seconds in ((burst_per_second, 1.0), (steady_per_minute, 60.0))
            if limit
        ]
        # The shared CLOCK is read at each call, so a test that replaces it reaches
        # limiters made before it did.
        self._clock = clock or (lambda: CLOCK.monotonic())
        self._sleep = sleep or (lambda seconds: CLOCK.sleep(seconds))
        self._answers = threading.Condition()
        self._blocked_until = 0.0

    def acquire(self, stop: Stop = NEVER) -> float:
        """Wait for a free slot, take it and return the seconds waited; a stopping run
        stops waiting within half a second."""
        started = self._clock()
        while True:
            stop.check()
            with self._answers:
                now = self._clock()
                waits = [w.wait_time(now) for w in self.windows]
                if None in waits:
                    # Every slot is held by a request in flight; its answer frees one.
                    self._answers.wait(timeout=_STOP_POLL_SECONDS)
                    continue
                delay = max([self._blocked_until - now, *waits])  # type: ignore[list-item]
                if delay <= _EPSILON:
                    for window in self.windows:
                        window.in_flight += 1
                    return now - started
            self._sleep(delay if stop is NEVER else min(delay, _STOP_POLL_SECONDS))

    def release(self) -> None:
        """The request taken by ``acquire`` is over: its slot counts from now."""
        with self._answers:
            now = self._clock()
            for window in self.windows:
                window.answered(now)
            self._answers.notify_all()

    def seconds_for(self, count: int) -> float:
        """The least time from now until ``count`` more requests have been sent, were
        each answered at once: what the windows (as they stand) allow."""
        with self._answers:
            now = self._clock()
            start = max(now, self._blocked_until)
            sent = [deque(w._answered, maxlen=w.limit) for w in self.windows]
            for window, times in zip(self.windows, sent, strict=True):
                times.extend([now] * window.in_flight)
        last = start
        for _ in range(count):
            last = max(
                [last]
                + [
                    times[0] + window.seconds
                    for window, times in zip(self.windows, sent, strict=True)
                    if len(times) == window.limit
                ]
            )
            for times in sent:
                times.append(last)
        return last - now

    def block_for(self, seconds: float) -> None:
        """Hold every caller back, e.g. for a 429's ``Retry-After``."""
        with self._answers:
            self._blocked_until = max(self._blocked_until, self._clock() + seconds)


class RateLimiterRegistry:
    """One limiter per (account, endpoint) in this process, shared by all streams."""

    def __init__(self) -> None:
        self._limiters: dict[tuple[str, str], RateLimiter] = {}
        self._lock = threading.Lock()

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
                self._limiters[key] = RateLimiter(burst_per_second, steady_per_minute)
            return self._limiters[key]


LIMITERS = RateLimiterRegistry()


def quota_of(
    settings: Settings, operation: spec.Operation, params: dict[str, str]
) -> tuple[int | None, int | None]:
    """The (per second, per minute) quota this tap keeps to on ``operation``: the one its
    parameters select (e.g. additional-fields[list]=profile_count lowers it), at the
    tap's share of each minute."""
    burst, steady = operation.burst_per_second, operation.steady_per_minute
    for condition in operation.conditional_limits:
        if condition["value"] in str(params.get(condition["param"], "")).split(","):
            burst, steady = condition["burst"], condition["steady"]
    return burst, settings.quota_per_minute(steady) if steady else None


def limiter_for(
    settings: Settings, operation: spec.Operation, params: dict[str, str]
) -> RateLimiter:
    """The limiter of ``operation`` for this account, at the quota its parameters
    select (e.g. predictive_analytics lowers the profiles limit) and the tap's share."""
    burst, steady = quota_of(settings, operation, params)
    account = hashlib.sha256(str(settings.api_key).encode()).hexdigest()[:16]
    return LIMITERS.get(account, f"{operation.operation_id}:{burst}:{steady}", burst, steady)
