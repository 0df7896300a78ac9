"""GET documents: include, additional fields, relationship endpoints, the spec's response
schemas, the render cache."""

from __future__ import annotations

from urllib.parse import quote

import pytest
import requests

from klaviyo_sim import KlaviyoSimulator
from klaviyo_sim.tests.conftest import (
    FULL_SPEC,
    error_of,
    get,
    headers_for,
    spec_pages,
)


def test_unseeded_types_are_empty_collections(
    sim: KlaviyoSimulator, http: requests.Session
) -> None:
    for path in (
        "/api/profile-bulk-import-jobs",
        "/api/coupon-code-bulk-create-jobs",
        "/api/catalog-item-bulk-create-jobs",
    ):
        response = get(http, sim, path)
        assert response.status_code == 200, path
        assert response.json()["data"] == []


def test_include_adds_relationship_data_and_included(
    sim: KlaviyoSimulator, http: requests.Session
) -> None:
    plain = get(http, sim, "/api/events", **{"page[size]": "5"}).json()
    assert "included" not in plain
    event = plain["data"][0]
    # To-one relationships always carry their identifier; to-many only when included.
    assert event["relationships"]["profile"]["data"]["type"] == "profile"
    assert event["relationships"]["metric"]["data"]["type"] == "metric"
    assert "data" not in event["relationships"]["attributions"]
    assert event["relationships"]["profile"]["links"]["related"].endswith("/profile/")

    body = get(http, sim, "/api/events", include="profile,metric", **{"page[size]": "100"}).json()
    keys = [(r["type"], r["id"]) for r in body["included"]]
    assert len(keys) == len(set(keys))
    for event in body["data"]:
        for name in ("profile", "metric"):
            ref = event["relationships"][name]["data"]
            assert (ref["type"], ref["id"]) in keys
    included_profile = next(r for r in body["included"] if r["type"] == "profile")
    assert "subscriptions" not in included_profile["attributes"]

    campaigns = get(
        http,
        sim,
        "/api/campaigns",
        filter="equals(messages.channel,'email')",
        include="campaign-messages,tags",
    ).json()
    first = campaigns["data"][0]
    messages = first["relationships"]["campaign-messages"]["data"]
    assert messages
    assert messages[0]["type"] == "campaign-message"
    assert {r["type"] for r in campaigns["included"]} >= {"campaign-message", "tag"}

    response = get(http, sim, "/api/profiles", include="lists")
    assert response.status_code == 400
    assert error_of(response)["source"] == {"parameter": "include"}


def test_additional_fields(sim: KlaviyoSimulator, http: requests.Session) -> None:
    plain = get(http, sim, "/api/profiles").json()["data"][0]["attributes"]
    assert "subscriptions" not in plain
    assert "predictive_analytics" not in plain
    assert set(plain) >= {"email", "created", "updated", "location", "properties"}

    response = get(http, sim, "/api/profiles", **{"additional-fields[profile]": "subscriptions"})
    attrs = response.json()["data"][0]["attributes"]
    assert attrs["subscriptions"]["email"]["marketing"]["consent"]
    assert "predictive_analytics" not in attrs
    assert response.headers["RateLimit-Limit"] == "750"

    response = get(
        http, sim, "/api/profiles", **{"additional-fields[profile]": "predictive_analytics"}
    )
    assert "predictive_analytics" in response.json()["data"][0]["attributes"]
    # The spec's lower limit for predictive analytics applies.
    assert response.headers["RateLimit-Limit"] == "150"

    bad = get(http, sim, "/api/profiles", **{"additional-fields[profile]": "everything"})
    assert bad.status_code == 400

    list_id = sim.data.notes["list_joined_tie"]["list_id"]
    single = get(http, sim, f"/api/lists/{list_id}", **{"additional-fields[list]": "profile_count"})
    assert single.json()["data"]["attributes"]["profile_count"] == 45


def test_relationship_endpoints(sim: KlaviyoSimulator, http: requests.Session) -> None:
    item = sim.data.notes["catalog"]["items"][1]
    for encoded in (quote(item, safe=""), item):
        body = get(http, sim, f"/api/catalog-items/{encoded}/relationships/categories").json()
        assert body["data"]
        assert all(set(ref) == {"type", "id"} for ref in body["data"])
        assert {ref["type"] for ref in body["data"]} == {"catalog-category"}
    campaign = sim.data.notes["campaigns"]["email"][0]
    ids = get(http, sim, f"/api/campaigns/{campaign}/relationships/tags").json()["data"]
    tags = get(http, sim, f"/api/campaigns/{campaign}/tags").json()["data"]
    assert [t["id"] for t in tags] == [r["id"] for r in ids]
    assert tags[0]["attributes"]["name"]
    flow = sim.data.notes["flows"]["flow_ids"][0]
    actions = get(http, sim, f"/api/flows/{flow}/flow-actions").json()["data"]
    assert [a["id"] for a in actions] == sim.data.notes["flows"]["actions"][flow]
    messages = get(http, sim, f"/api/flow-actions/{actions[1]['id']}/flow-messages").json()["data"]
    assert messages[0]["attributes"]["channel"] == "email"
    event = sim.data.ids("event")[0]
    metric = get(http, sim, f"/api/events/{event}/metric").json()["data"]
    assert metric["type"] == "metric"
    assert get(http, sim, f"/api/events/{event}/relationships/metric").json()["data"] == {
        "type": "metric",
        "id": metric["id"],
    }


@pytest.mark.skipif(not FULL_SPEC.exists(), reason="the full OpenAPI spec is not available")
def test_responses_match_the_spec_response_schemas(
    sim: KlaviyoSimulator, http: requests.Session
) -> None:
    failures = []
    for operation_id, page, validator in spec_pages(http, sim):
        for error in validator.iter_errors(page):
            failures.append(f"{operation_id} {list(error.absolute_path)}: {error.message[:200]}")
    assert not failures, "\n".join(failures[:20])


def test_render_cache_serves_the_same_bytes() -> None:
    # The benchmarks' opt-in cache of rendered resources changes nothing a client sees,
    # also after the data changes (a new generation) and across pages.
    queries = [
        ("/api/events", {"page[size]": "7", "sort": "datetime"}),
        ("/api/profiles", {"additional-fields[profile]": "subscriptions", "page[size]": "5"}),
        ("/api/lists/", {}),
        ("/api/campaigns", {"filter": "equals(messages.channel,'email')"}),
    ]
    with KlaviyoSimulator(seed=3) as plain, KlaviyoSimulator(seed=3, render_cache=50) as cached:
        queries.append((f"/api/lists/{plain.data.ids('list')[0]}/profiles", {}))
        for round_ in range(2):
            for path, params in queries:
                bodies = []
                for server in (plain, cached):
                    url = server.url + path
                    got = requests.get(url, params=params, headers=headers_for(server.api_key))
                    assert got.status_code == 200, got.text
                    bodies.append(got.content.replace(server.url.encode(), b"URL"))
                assert bodies[0] == bodies[1], path
            for server in (plain, cached):
                profile_id = server.data.ids("profile")[0]
                server.data.update("profile", profile_id, first_name=f"Renamed {round_}")
                list_id = server.data.ids("list")[0]
                member = next(iter(server.data.members("list", list_id)))
                server.data.remove_list_member(list_id, member)
