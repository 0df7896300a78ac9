"""Klaviyo's fixed-window rate limits: burst per 1 s, steady per 60 s (and daily for reports)."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

from .spec import Operation

BURST_WINDOW = 1.0
STEADY_WINDOW = 60.0
DAILY_WINDOW = 86_400.0


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int
    limit: int
    remaining: int
    reset: int


def limits_for(
    op: Operation, params: dict[str, str], scale: float, daily_quota: int | None = None
) -> tuple[str, list[tuple[str, int, float]]]:
    """The bucket key and (window name, limit, seconds) list for a request.

    ``daily_quota`` replaces the spec's daily quota (tests use a small one); it is not scaled.
    """
    key = op.operation_id
    burst, steady, daily = op.burst, op.steady, op.daily
    for cond in op.conditional:
        values = params.get(cond.param, "").split(",")
        if cond.value in values:
            key = f"{op.operation_id}[{cond.param}={cond.value}]"
            burst, steady = cond.burst, cond.steady
            break
    windows: list[tuple[str, int, float]] = []
    for name, limit, seconds in (
        ("burst", burst, BURST_WINDOW),
        ("steady", steady, STEADY_WINDOW),
        ("daily", daily, DAILY_WINDOW),
    ):
        if name == "daily" and limit and daily_quota is not None:
            windows.append((name, max(1, daily_quota), seconds))
        elif limit:
            windows.append((name, max(1, int(limit * scale)), seconds))
    return key, windows


def _ceil(seconds: float) -> int:
    # Float noise must not turn a fresh 60 s window into "61".
    return math.ceil(seconds - 1e-6)


class RateLimiter:
    """Windows start at the first request after the previous window ended."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[str, dict[str, list[float]]] = {}

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()

    def hit(
        self, key: str, windows: list[tuple[str, int, float]], now: float, enforce: bool
    ) -> Decision:
        with self._lock:
            state = self._windows.setdefault(key, {})
            waits: list[float] = []
            for name, limit, seconds in windows:
                start, count = state.get(name, (now, 0))
                if now - start >= seconds:
                    start, count = now, 0
                state[name] = [start, count]
                if count >= limit:
                    waits.append(seconds - (now - start))
            if waits and enforce:
                # A throttled request is not served, so it does not use up quota.
                return Decision(False, max(1, _ceil(max(waits))), 0, 0, 0)
            for name, _, _ in windows:
                state[name][1] += 1
            steady = next(
                (w for w in windows if w[0] == "steady"), windows[-1] if windows else None
            )
            if steady is None:
                return Decision(True, 0, 0, 0, 0)
            start, count = state[steady[0]]
            return Decision(
                True,
                0,
                steady[1],
                max(0, steady[1] - int(count)),
                max(0, _ceil(steady[2] - (now - start))),
            )
