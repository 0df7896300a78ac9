"""Rate limits: burst and steady windows, Retry-After, the RateLimit-* headers."""

from __future__ import annotations

import time

import requests

from klaviyo_sim import KlaviyoSimulator
from klaviyo_sim.tests.conftest import error_of, get, headers_for


def test_burst_limit_429_and_early_retry_is_429_again() -> None:
    # scale 0.001: get_events allows 1 per second and 3 per minute.
    with KlaviyoSimulator(rate_limits=True, rate_limit_scale=0.001) as limited:
        headers = headers_for(limited.api_key)
        url = limited.url + "/api/events"
        first = requests.get(url, headers=headers, timeout=5)
        assert first.status_code == 200
        assert first.headers["RateLimit-Limit"] == "3"
        assert first.headers["RateLimit-Remaining"] == "2"
        assert 59 <= int(first.headers["RateLimit-Reset"]) <= 60
        throttled = requests.get(url, headers=headers, timeout=5)
        assert throttled.status_code == 429
        assert throttled.headers["Retry-After"] == "1"
        error = error_of(throttled)
        assert error["code"] == "throttled"
        assert error["detail"] == "Request was throttled. Expected available in 1 second."
        assert requests.get(url, headers=headers, timeout=5).status_code == 429
        time.sleep(1.05)
        again = requests.get(url, headers=headers, timeout=5)
        assert again.status_code == 200
        # The two throttled requests were not served, so they used no quota.
        assert again.headers["RateLimit-Remaining"] == "1"
        # Other operations have their own buckets.
        assert requests.get(limited.url + "/api/profiles", headers=headers, timeout=5).ok


def test_steady_limit_retry_after_is_the_minute_window() -> None:
    with KlaviyoSimulator(rate_limits=True, rate_limit_scale=0.0001) as limited:
        headers = headers_for(limited.api_key)
        url = limited.url + "/api/accounts"
        assert requests.get(url, headers=headers, timeout=5).status_code == 200
        throttled = requests.get(url, headers=headers, timeout=5)
        assert throttled.status_code == 429
        assert 58 <= int(throttled.headers["Retry-After"]) <= 60
        statuses = [r.status for r in limited.requests if r.operation_id == "get_accounts"]
        assert statuses == [200, 429]


def test_rate_limits_off_by_default(sim: KlaviyoSimulator, http: requests.Session) -> None:
    statuses = {get(http, sim, "/api/accounts").status_code for _ in range(20)}
    assert statuses == {200}
