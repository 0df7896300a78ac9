"""The client-side limiter: never more than a window's quota on Klaviyo's side, whatever
the network does to each request on its way."""

from __future__ import annotations

import heapq
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tap_klaviyo import spec
from tap_klaviyo.settings import Settings
from tap_klaviyo.transport.ratelimit import LIMITERS, RateLimiter, limiter_for, window_seconds


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_request_holds_its_slot_until_its_answer() -> None:
    clock = Clock()
    limiter = RateLimiter(1, 15, clock=clock, sleep=clock.sleep)
    sent = []
    for _ in range(3):
        limiter.acquire()
        sent.append(clock.now)
        clock.now += 0.3  # on the way there and back
        limiter.release()
    gaps = [later - earlier for earlier, later in itertools.pairwise(sent)]
    assert gaps == [0.3 + window_seconds(1)] * 2


def server_arrivals(
    limiter: RateLimiter, clock: Clock, trips: list[tuple[float, float]], concurrency: int
) -> list[float]:
    """Send one request per (to Klaviyo, back) delay pair from ``concurrency`` callers;
    return when each reached Klaviyo."""
    arrivals: list[float] = []
    answers: list[float] = []  # a heap of answer times of requests in flight
    for there, back in trips:
        while answers:
            waits = [w.wait_time(clock.now) for w in limiter.windows]
            due = answers[0]
            free = len(answers) < concurrency and None not in waits
            if free and clock.now + max([0.0, *waits]) <= due:  # type: ignore[list-item]
                break
            # An answer comes back before this request may leave: time moves on to it.
            clock.now = max(clock.now, heapq.heappop(answers))
            limiter.release()
        limiter.acquire()
        arrivals.append(clock.now + there)
        heapq.heappush(answers, clock.now + there + back)
    return sorted(arrivals)


def most_in_any_window(arrivals: list[float], seconds: float) -> int:
    most = 0
    for i, start in enumerate(arrivals):
        most = max(most, sum(1 for t in arrivals[i:] if t < start + seconds))
    return most


@settings(max_examples=60, deadline=None)
@given(
    trips=st.lists(st.tuples(st.floats(0.0, 0.8), st.floats(0.0, 0.8)), min_size=20, max_size=120),
    concurrency=st.integers(1, 16),
    burst=st.sampled_from([1, 3, 10]),
)
def test_no_second_on_klaviyos_side_holds_more_than_the_burst_quota(
    trips: list[tuple[float, float]], concurrency: int, burst: int
) -> None:
    clock = Clock()
    limiter = RateLimiter(burst, 10_000, clock=clock, sleep=clock.sleep)
    arrivals = server_arrivals(limiter, clock, trips, concurrency)
    assert most_in_any_window(arrivals, 1.0) <= burst


def test_the_steady_quota_is_used_nearly_whole() -> None:
    clock = Clock()
    limiter = RateLimiter(75, 750, clock=clock, sleep=clock.sleep)
    trips = [(0.1, 0.1)] * 1600
    arrivals = server_arrivals(limiter, clock, trips, concurrency=16)
    assert most_in_any_window(arrivals, 1.0) <= 75
    assert (
        max(sum(1 for t in arrivals[i : i + 800] if t < a + 60) for i, a in enumerate(arrivals))
        <= 750
    )
    # The third minute's 100 requests leave after two windows of a little over 60 s.
    assert 2 * 60 <= arrivals[-1] <= 2 * window_seconds(60) + 4


def test_limiter_for_takes_the_quota_the_parameters_select_and_the_taps_share() -> None:
    profiles = spec.operation_for("GET", "/api/profiles")
    settings = Settings(api_key="pk_share", max_requests_per_minute_share=0.5)
    LIMITERS.reset()
    plain = limiter_for(settings, profiles, {"additional-fields[profile]": "subscriptions"})
    predictive = limiter_for(
        settings, profiles, {"additional-fields[profile]": "subscriptions,predictive_analytics"}
    )
    # Klaviyo's profiles quota is 75/s and 750/m, 10/s and 150/m with predictive_analytics;
    # this tap may use half of each minute's quota, and all of the burst.
    assert [(w.limit, w.seconds) for w in plain.windows] == [
        (75, window_seconds(1)),
        (375, window_seconds(60)),
    ]
    assert [(w.limit, w.seconds) for w in predictive.windows] == [
        (10, window_seconds(1)),
        (75, window_seconds(60)),
    ]


def test_one_limiter_per_account_and_endpoint() -> None:
    tags = spec.operation_for("GET", "/api/tags")
    LIMITERS.reset()
    first = limiter_for(Settings(api_key="pk_one"), tags, {})
    assert limiter_for(Settings(api_key="pk_one"), tags, {"page[size]": "50"}) is first
    assert limiter_for(Settings(api_key="pk_two"), tags, {}) is not first
    metrics = spec.operation_for("GET", "/api/metrics")
    assert limiter_for(Settings(api_key="pk_one"), metrics, {}) is not first


def test_the_least_time_for_more_requests_is_what_the_windows_allow() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    limiter = RateLimiter(10, 100, clock=lambda: now[0], sleep=sleep)
    assert limiter.seconds_for(10) == 0  # a second's worth at once
    assert limiter.seconds_for(11) == pytest.approx(window_seconds(1))
    assert limiter.seconds_for(101) == pytest.approx(window_seconds(60))
    for _ in range(100):  # a minute's worth, ten a second: the next waits for the minute
        limiter.acquire()
        limiter.release()
    assert now[0] == pytest.approx(9 * window_seconds(1))
    assert limiter.seconds_for(1) == pytest.approx(window_seconds(60) - now[0])
    now[0] = 30
    assert limiter.seconds_for(1) == pytest.approx(window_seconds(60) - 30)
    # Then ten a second again, as the first second's requests leave the minute.
    assert limiter.seconds_for(11) == pytest.approx(window_seconds(60) - 30 + window_seconds(1))
    limiter.block_for(100)
    assert limiter.seconds_for(1) == pytest.approx(100)
