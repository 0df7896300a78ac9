"""KlaviyoSimulator over HTTP: keys and scopes, the revision header, routing, the request
log, concurrency, stopping."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from klaviyo_sim import KlaviyoSimulator, SimData
from klaviyo_sim.tests.conftest import REVISION, error_of, get, headers_for, ids_of, walk


def test_missing_or_unknown_key_is_401_without_echoing_the_key(sim: KlaviyoSimulator) -> None:
    for headers in (
        {"revision": REVISION},
        headers_for("pk_not_a_real_key"),
        {"Authorization": f"Bearer {sim.api_key}", "revision": REVISION},
    ):
        response = requests.get(sim.url + "/api/profiles", headers=headers, timeout=5)
        assert response.status_code == 401
        error = error_of(response)
        assert error["code"] == "not_authenticated"
        assert error["detail"] == "Incorrect authentication credentials."
        assert "pk_not_a_real_key" not in response.text
        assert sim.api_key not in response.text
    assert response.headers["Content-Type"] == "application/vnd.api+json"


def test_key_without_a_scope_is_403(sim: KlaviyoSimulator) -> None:
    sim.add_key("pk_profiles_only", {"profiles:read"})
    headers = headers_for("pk_profiles_only")
    assert requests.get(sim.url + "/api/profiles", headers=headers, timeout=5).status_code == 200
    response = requests.get(sim.url + "/api/events", headers=headers, timeout=5)
    assert response.status_code == 403
    error = error_of(response)
    assert error["code"] == "permission_denied"
    assert error["detail"] == "You do not have permission to perform this action."
    # Members of a list need both lists:read and profiles:read.
    list_id = sim.data.notes["list_joined_tie"]["list_id"]
    url = f"{sim.url}/api/lists/{list_id}/profiles"
    assert requests.get(url, headers=headers, timeout=5).status_code == 403


def test_revision_header_is_required_and_checked(sim: KlaviyoSimulator) -> None:
    for revision in (None, "yesterday", "2026-13-01", "2099-01-01"):
        headers = headers_for(sim.api_key, revision)
        response = requests.get(sim.url + "/api/accounts", headers=headers, timeout=5)
        assert response.status_code == 400, revision
        assert error_of(response)["code"] == "invalid"
    for revision in ("2026-07-15", "2024-10-15.pre", "2023-02-22"):
        headers = headers_for(sim.api_key, revision)
        response = requests.get(sim.url + "/api/accounts", headers=headers, timeout=5)
        assert response.status_code == 200, revision


def test_unknown_paths_methods_and_parameters(
    sim: KlaviyoSimulator, http: requests.Session
) -> None:
    response = get(http, sim, "/api/not-a-thing")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"
    assert get(http, sim, "/api/profiles/NOPE").status_code == 404
    assert get(http, sim, "/api/lists/NOPE/profiles").status_code == 404
    response = http.post(sim.url + "/api/events", timeout=5)
    assert response.status_code == 405
    response = get(http, sim, "/api/profiles", bogus="1")
    assert response.status_code == 400
    assert error_of(response)["source"] == {"parameter": "bogus"}
    response = http.get(sim.url + "/api/profiles?sort=created&sort=updated", timeout=5)
    assert response.status_code == 400
    # A trailing slash reaches the same operation.
    assert get(http, sim, "/api/accounts/").status_code == 200


def test_requests_are_logged(sim: KlaviyoSimulator, http: requests.Session) -> None:
    before = len(sim.requests)
    get(http, sim, "/api/lists", sort="-name")
    entry = sim.requests[before]
    assert entry.method == "GET"
    assert entry.path == "/api/lists"
    assert entry.query == {"sort": ["-name"]}
    assert entry.status == 200
    assert entry.operation_id == "get_lists"
    assert entry.headers["revision"] == REVISION


def test_concurrent_walks_are_consistent(sim: KlaviyoSimulator) -> None:
    def one(_: int) -> list[str]:
        with requests.Session() as session:
            session.headers.update(headers_for(sim.api_key))
            return ids_of(walk(session, sim.url + "/api/events", {"page[size]": "40"}))

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(one, range(8)))
    assert all(r == results[0] for r in results)
    assert len(set(results[0])) == sim.data.count("event")


def test_stop_closes_the_port_and_open_connections() -> None:
    running = KlaviyoSimulator(data=SimData.empty()).start()
    url = running.url
    with requests.Session() as session:
        session.headers.update(headers_for(running.api_key))
        assert session.get(url + "/api/accounts", timeout=5).ok
        running.stop()
        with pytest.raises(requests.ConnectionError):
            requests.get(url + "/api/accounts", timeout=1)
        # The pooled keep-alive connection is gone too (requests may retry on a new one).
        with pytest.raises(requests.ConnectionError):
            session.get(url + "/api/accounts", timeout=1)


def test_json_body_is_json_api(sim: KlaviyoSimulator, http: requests.Session) -> None:
    response = get(http, sim, "/api/accounts")
    assert response.headers["Content-Type"] == "application/vnd.api+json"
    body = json.loads(response.content)
    account = body["data"][0]
    assert account["type"] == "account"
    assert account["links"]["self"] == f"{sim.url}/api/accounts/{account['id']}/"
