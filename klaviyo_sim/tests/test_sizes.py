"""List and segment sizes: ``additional-fields[list|segment]=profile_count`` on the single
GETs only, and its conditional rate limit (1/s, 15/m)."""

from __future__ import annotations

import pytest
import requests

from klaviyo_sim import KlaviyoSimulator
from klaviyo_sim.tests.conftest import VirtualClock, error_of, get, headers_for

COUNT = "profile_count"


@pytest.mark.parametrize("kind", ["list", "segment"])
def test_profile_count_on_the_single_resource(
    sim: KlaviyoSimulator, http: requests.Session, kind: str
) -> None:
    field = {f"additional-fields[{kind}]": COUNT}
    for group in sim.data.ids(kind):
        body = get(http, sim, f"/api/{kind}s/{group}", **field).json()
        assert body["data"]["attributes"][COUNT] == len(sim.data.members(kind, group))
        plain = get(http, sim, f"/api/{kind}s/{group}").json()
        assert COUNT not in plain["data"]["attributes"]
    counts = [
        get(http, sim, f"/api/{kind}s/{g}", **field).json()["data"]["attributes"][COUNT]
        for g in sim.data.ids(kind)
    ]
    assert 0 in counts and max(counts) > 10
    # Sparse fieldsets keep it when named.
    group = sim.data.ids(kind)[0]
    sparse = get(http, sim, f"/api/{kind}s/{group}", **field, **{f"fields[{kind}]": COUNT})
    assert set(sparse.json()["data"]["attributes"]) == {COUNT}
    # It follows the members.
    if kind == "list":
        empty = sim.data.notes["empty_list_id"]
        profile = sim.data.ids("profile")[0]
        sim.data.add_list_member(empty, profile)
        try:
            body = get(http, sim, f"/api/lists/{empty}", **field).json()
            assert body["data"]["attributes"][COUNT] == 1
        finally:
            sim.data.remove_list_member(empty, profile)


@pytest.mark.parametrize("kind", ["list", "segment"])
def test_collections_reject_profile_count(
    sim: KlaviyoSimulator, http: requests.Session, kind: str
) -> None:
    name = f"additional-fields[{kind}]"
    response = get(http, sim, f"/api/{kind}s", **{name: COUNT})
    assert response.status_code == 400
    assert error_of(response)["source"] == {"parameter": name}
    # Other values are rejected on the single resource.
    group = sim.data.ids(kind)[0]
    response = get(http, sim, f"/api/{kind}s/{group}", **{name: "member_count"})
    assert response.status_code == 400


@pytest.mark.parametrize("kind", ["list", "segment"])
def test_profile_count_has_its_own_rate_limit(kind: str, clock: VirtualClock) -> None:
    with KlaviyoSimulator(rate_limits=True, clock=clock) as limited, requests.Session() as http:
        http.headers.update(headers_for(limited.api_key))
        group = limited.data.ids(kind)[0]
        url = f"{limited.url}/api/{kind}s/{group}"
        counted = {f"additional-fields[{kind}]": COUNT}
        first = http.get(url, params=counted, timeout=5)
        assert first.status_code == 200
        assert first.headers["RateLimit-Limit"] == "15"
        assert first.headers["RateLimit-Remaining"] == "14"
        # Burst: 1 per second.
        second = http.get(url, params=counted, timeout=5)
        assert second.status_code == 429
        assert second.headers["Retry-After"] == "1"
        assert error_of(second)["code"] == "throttled"
        # The plain GET has its own bucket (75/s, 750/m), untouched by the above.
        plain = [http.get(url, timeout=5) for _ in range(20)]
        assert {r.status_code for r in plain} == {200}
        assert plain[0].headers["RateLimit-Limit"] == "750"
        # Steady: 15 per minute, one a second.
        served = 1
        for _ in range(20):
            clock.sleep(1.0)
            response = http.get(url, params=counted, timeout=5)
            if response.status_code == 200:
                served += 1
            else:
                assert response.status_code == 429
                assert 40 <= int(response.headers["Retry-After"]) <= 60
                break
        assert served == 15
        clock.sleep(60)
        assert http.get(url, params=counted, timeout=5).status_code == 200
