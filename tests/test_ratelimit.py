"""The client-side limiter: never more than a window's quota, with room for jitter."""

from __future__ import annotations

import itertools

from tap_klaviyo.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def send_times(limiter: RateLimiter, clock: Clock, count: int) -> list[float]:
    times = []
    for _ in range(count):
        limiter.acquire()
        times.append(clock.now)
    return times


def test_one_a_second_leaves_room_for_a_delayed_request() -> None:
    # A request delayed 0.2 s on its way must not land in the same second as the next.
    clock = Clock()
    times = send_times(RateLimiter(1, 15, clock=clock, sleep=clock.sleep), clock, 3)
    assert [b - a for a, b in itertools.pairwise(times)] == [1.25, 1.25]


def test_no_window_ever_holds_more_than_its_quota() -> None:
    clock = Clock()
    times = send_times(RateLimiter(75, 750, clock=clock, sleep=clock.sleep), clock, 1600)
    for i, start in enumerate(times):
        in_second = sum(1 for t in times[i:] if t < start + 1.2)
        in_minute = sum(1 for t in times[i : i + 800] if t < start + 60)
        # A fifth of the burst quota stays spare for requests that bunch up on the way.
        assert in_second <= 60 and in_minute <= 750
    # The steady quota is still nearly all used: the third minute's 100 requests leave
    # after two windows of 63.2 s, paced 60 per 1.25 s.
    assert 2 * 63.2 <= times[-1] <= 2 * 63.2 + 1.25 + 1e-9
