"""Injected faults: statuses, then recovery; dropped, slow, truncated and broken responses."""

from __future__ import annotations

import time

import pytest
import requests

from klaviyo_sim import Fault, KlaviyoSimulator
from klaviyo_sim.tests.conftest import error_of, get, headers_for


def test_status_fault_then_recovery(sim: KlaviyoSimulator, http: requests.Session) -> None:
    fault = sim.faults.add(Fault(path_pattern=r"^/api/events$", status=503, times=2))
    first, second, third = (get(http, sim, "/api/events") for _ in range(3))
    assert [first.status_code, second.status_code, third.status_code] == [503, 503, 200]
    assert error_of(first)["status"] == 503
    assert fault.fired == 2
    assert get(http, sim, "/api/profiles").status_code == 200


def test_status_fault_with_retry_after_and_after(
    sim: KlaviyoSimulator, http: requests.Session
) -> None:
    sim.faults.add(Fault(path_pattern=r"^/api/metrics$", status=429, retry_after=3, after=1))
    assert get(http, sim, "/api/metrics").status_code == 200
    response = get(http, sim, "/api/metrics")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"
    assert get(http, sim, "/api/metrics").status_code == 200


def test_connection_faults(sim: KlaviyoSimulator, http: requests.Session) -> None:
    sim.faults.add(Fault(path_pattern=r"^/api/tags$", kind="reset"))
    with pytest.raises(requests.ConnectionError):
        requests.get(sim.url + "/api/tags", headers=headers_for(sim.api_key), timeout=5)
    assert get(http, sim, "/api/tags").status_code == 200

    sim.faults.add(Fault(path_pattern=r"^/api/tags$", kind="timeout", timeout_seconds=1.0))
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(sim.url + "/api/tags", headers=headers_for(sim.api_key), timeout=0.2)
    assert time.monotonic() - started < 1.0

    sim.faults.add(Fault(path_pattern=r"^/api/tags$", kind="truncated"))
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        requests.get(sim.url + "/api/tags", headers=headers_for(sim.api_key), timeout=5)

    sim.faults.add(Fault(path_pattern=r"^/api/tags$", kind="invalid_json"))
    response = get(http, sim, "/api/tags")
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()
    assert get(http, sim, "/api/tags").json()["data"]


def test_unknown_fault_kind_is_rejected() -> None:
    with pytest.raises(ValueError):
        Fault(path_pattern=".*", kind="explode")
