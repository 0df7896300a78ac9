"""The Klaviyo simulator behaves like the API's spec says, over real HTTP."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from klaviyo_sim import Fault, KlaviyoSimulator, SimData
from klaviyo_sim.seed import (
    EVENT_DATETIME_TIE,
    LIST_JOINED_TIE,
    PROFILE_UPDATED_TIE,
)

REVISION = "2026-07-15"
KLAVIYO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(\+00:00|Z)$")


def headers_for(key: str, revision: str | None = REVISION) -> dict[str, str]:
    out = {"Authorization": f"Klaviyo-API-Key {key}", "Accept": "application/vnd.api+json"}
    if revision is not None:
        out["revision"] = revision
    return out


@pytest.fixture(scope="module")
def sim() -> Iterator[KlaviyoSimulator]:
    with KlaviyoSimulator(seed=0) as running:
        yield running


@pytest.fixture(autouse=True)
def _clean(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "sim" in request.fixturenames:
        shared: KlaviyoSimulator = request.getfixturevalue("sim")
        shared.faults.clear()
        shared.reset_rate_limits()


@pytest.fixture
def http(sim: KlaviyoSimulator) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers.update(headers_for(sim.api_key))
        yield session


def get(http: requests.Session, sim: KlaviyoSimulator, path: str, **params: Any) -> Any:
    return http.get(sim.url + path, params=params, timeout=5)


def error_of(response: requests.Response) -> dict[str, Any]:
    errors = response.json()["errors"]
    assert len(errors) == 1
    error = errors[0]
    assert {"id", "status", "code", "title", "detail"} <= set(error)
    assert error["status"] == response.status_code
    return error


def walk(http: requests.Session, url: str, params: dict[str, str]) -> list[dict[str, Any]]:
    """Every page of a collection, following links.next as the API hands it out."""
    pages = []
    response = http.get(url, params=params, timeout=5)
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body)
        next_url = body["links"].get("next")
        if not next_url:
            return pages
        response = http.get(next_url, timeout=5)


def ids_of(pages: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for page in pages for item in page["data"]]


# -- auth, revision, routing ---------------------------------------------------------------


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


def test_every_get_in_the_extract_routes_to_its_operation(sim: KlaviyoSimulator) -> None:
    for op in sim.spec.operations.values():
        path = re.sub(r"\{[^}]+\}", "abc123", op.path)
        matches = [m for m, _ in sim.spec.match(path) if m.method == op.method]
        assert [m.operation_id for m in matches] == [op.operation_id], path


def test_unseeded_types_are_empty_collections(
    sim: KlaviyoSimulator, http: requests.Session
) -> None:
    for path in ("/api/tracking-settings", "/api/custom-metrics", "/api/web-feeds"):
        response = get(http, sim, path)
        assert response.status_code == 200, path
        assert response.json()["data"] == []


# -- filters -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expression", "fragment"),
    [
        (
            "/api/profiles",
            "greater-or-equal(updated,2024-01-01T00:00:00Z)",
            "'greater-or-equal' operator for field 'updated' is not supported",
        ),
        ("/api/profiles", "greater-than(updated,'2024-01-01T00:00:00Z')", "must not be quoted"),
        ("/api/profiles", "greater-than(updated,2024-01-01T00:00:00 00:00)", "%2B"),
        ("/api/profiles", "greater-than(nickname,2024-01-01T00:00:00Z)", "'nickname'"),
        ("/api/profiles", "equals(email,sarah@example.com)", "must be quoted"),
        ("/api/profiles", "equals(email,'a'", "Invalid filter"),
        ("/api/profiles", "or(equals(email,'a'),equals(email,'b'))", "'or'"),
        ("/api/profiles", "any(email,'a@example.com')", "requires a list value"),
        ("/api/events", "has(profile,'x')", "requires no value"),
        ("/api/events", "greater-than(timestamp,'1700000000')", "expected a number"),
        ("/api/flows", "equals(archived,'true')", "expected true or false"),
        ("/api/campaigns", "equals(messages.channel,'fax')", "must be one of"),
    ],
)
def test_filter_validation(
    sim: KlaviyoSimulator, http: requests.Session, path: str, expression: str, fragment: str
) -> None:
    response = get(http, sim, path, filter=expression)
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["source"] == {"parameter": "filter"}
    assert fragment in error["detail"]


def test_filter_semantics(sim: KlaviyoSimulator, http: requests.Session) -> None:
    def count(path: str, expression: str, **extra: str) -> int:
        params = {"filter": expression, **extra}
        return len(ids_of(walk(http, sim.url + path, params)))

    size = {"page[size]": "100"}
    tie = PROFILE_UPDATED_TIE
    assert count("/api/profiles", f"greater-than(updated,{tie})", **size) == 5
    assert count("/api/profiles", f"less-than(updated,{tie})", **size) == 90
    # Offsets and fractions denote the same instant.
    assert count("/api/profiles", "less-than(updated,2026-03-15T03:30:00.000-05:00)", **size) == 90
    tie_event = EVENT_DATETIME_TIE
    expression = f"greater-or-equal(datetime,{tie_event}),less-or-equal(datetime,{tie_event})"
    assert count("/api/events", expression) == 12
    stamp = int(datetime.fromisoformat(tie_event).timestamp())
    expression = f"and(greater-or-equal(timestamp,{stamp}),less-than(timestamp,{stamp + 1}))"
    assert count("/api/events", expression) == 12
    assert count("/api/events", "equals(profile_id,'nobody')") == 0

    metric_id = sim.data.ids("metric")[0]
    pages = walk(http, sim.url + "/api/events", {"filter": f"equals(metric_id,'{metric_id}')"})
    assert pages[0]["data"]
    for event in (e for p in pages for e in p["data"]):
        assert event["relationships"]["metric"]["data"]["id"] == metric_id

    profile = sim.data.get("profile")[3]
    email = profile["attributes"]["email"]
    found = ids_of(walk(http, sim.url + "/api/profiles", {"filter": f"equals(email,'{email}')"}))
    assert found == [profile["id"]]
    wanted = sorted(sim.data.ids("profile")[:3])
    expression = "any(id,[" + ",".join(f'"{i}"' for i in wanted) + "])"
    assert sorted(ids_of(walk(http, sim.url + "/api/profiles", {"filter": expression}))) == wanted
    assert count("/api/flows", "contains(name,'Welcome')") == 1
    assert count("/api/flows", "and( contains(name, 'Welcome') )") == 1
    assert count("/api/flows", "starts-with(name,'Abandoned')") == 1
    assert count("/api/events", "has(metric)") == 300
    assert count("/api/metrics", "equals(integration.category,'eCommerce')") == 2
    assert count("/api/coupons/WELCOME10/coupon-codes", "equals(status,'USED')") == 3


def test_campaigns_need_a_channel_filter_and_hide_archived(
    sim: KlaviyoSimulator, http: requests.Session
) -> None:
    for params in ({}, {"filter": "equals(archived,true)"}):
        response = get(http, sim, "/api/campaigns", **params)
        assert response.status_code == 400
        error = error_of(response)
        assert error["detail"].startswith("A channel filter is required to list campaigns.")
        assert "equals(messages.channel,'mobile_push')" in error["detail"]

    notes = sim.data.notes["campaigns"]
    archived = set(notes["archived"])
    for channel in ("email", "sms", "mobile_push"):
        expression = f"equals(messages.channel,'{channel}')"
        listed = ids_of(walk(http, sim.url + "/api/campaigns", {"filter": expression}))
        assert set(listed) == set(notes[channel]) - archived
        same = f"and({expression},equals(archived,false))"
        assert ids_of(walk(http, sim.url + "/api/campaigns", {"filter": same})) == listed
        only = f"{expression},equals(archived,true)"
        assert set(ids_of(walk(http, sim.url + "/api/campaigns", {"filter": only}))) == (
            set(notes[channel]) & archived
        )
    flows = sim.data.notes["flows"]
    assert set(ids_of(walk(http, sim.url + "/api/flows", {}))) == set(flows["flow_ids"]) - set(
        flows["archived"]
    )
    assert (
        ids_of(walk(http, sim.url + "/api/flows", {"filter": "equals(archived,true)"}))
        == (flows["archived"])
    )


# -- sort, page size, cursors --------------------------------------------------------------


def test_sort_values_come_from_the_spec(sim: KlaviyoSimulator, http: requests.Session) -> None:
    response = get(http, sim, "/api/profiles", sort="first_name")
    assert response.status_code == 400
    assert error_of(response)["source"] == {"parameter": "sort"}
    assert get(http, sim, "/api/metrics", sort="name").status_code == 400
    pages = walk(
        http,
        sim.url + "/api/campaigns",
        {"filter": "equals(messages.channel,'email')", "sort": "-created_at"},
    )
    created = [c["attributes"]["created_at"] for p in pages for c in p["data"]]
    assert created == sorted(created, reverse=True)


@pytest.mark.parametrize(
    ("path", "size", "ok"),
    [
        ("/api/profiles", "0", False),
        ("/api/profiles", "101", False),
        ("/api/profiles", "abc", False),
        ("/api/profiles", "-1", False),
        ("/api/profiles", "100", True),
        ("/api/events", "1000", True),
        ("/api/events", "1001", False),
        ("/api/lists", "10", True),
        ("/api/lists", "11", False),
        ("/api/metrics", "5", False),  # no page[size] parameter at all
    ],
)
def test_page_size_bounds(
    sim: KlaviyoSimulator, http: requests.Session, path: str, size: str, ok: bool
) -> None:
    response = get(http, sim, path, **{"page[size]": size})
    assert (response.status_code == 200) is ok, response.text
    if not ok:
        assert error_of(response)["source"] == {"parameter": "page[size]"}


def test_default_page_sizes(sim: KlaviyoSimulator, http: requests.Session) -> None:
    assert len(get(http, sim, "/api/profiles").json()["data"]) == 20
    assert len(get(http, sim, "/api/events").json()["data"]) == 200
    assert len(get(http, sim, "/api/lists").json()["data"]) == 10
    assert len(get(http, sim, "/api/templates").json()["data"]) == 10


def _expected_order(sim: KlaviyoSimulator, kind: str, attribute: str) -> list[str]:
    rows = sim.data.get(kind)
    return [r["id"] for r in sorted(rows, key=lambda r: (r["attributes"][attribute], r["id"]))]


@pytest.mark.parametrize("size", ["100", "20", "7"])
def test_cursor_walk_covers_profiles_once_across_the_tie(
    sim: KlaviyoSimulator, http: requests.Session, size: str
) -> None:
    pages = walk(http, sim.url + "/api/profiles", {"sort": "updated", "page[size]": size})
    assert ids_of(pages) == _expected_order(sim, "profile", "updated")
    assert all(len(p["data"]) == int(size) for p in pages[:-1])
    assert "next" not in pages[-1]["links"]
    tie = sim.data.notes["profile_updated_tie"]["ids"]
    assert ids_of(pages)[90:115] == tie
    if size == "100":
        updated = [p["attributes"]["updated"] for p in pages[0]["data"]]
        assert updated[90:] == [PROFILE_UPDATED_TIE] * 10


def test_cursor_walk_descending_and_events_default_order(
    sim: KlaviyoSimulator, http: requests.Session
) -> None:
    pages = walk(http, sim.url + "/api/profiles", {"sort": "-updated", "page[size]": "100"})
    assert ids_of(pages) == list(reversed(_expected_order(sim, "profile", "updated")))
    # Events default to datetime order; 12 share one datetime across the 200 boundary.
    pages = walk(http, sim.url + "/api/events", {})
    assert [len(p["data"]) for p in pages] == [200, 100]
    assert ids_of(pages) == _expected_order(sim, "event", "datetime")
    tie = sim.data.notes["event_datetime_tie"]
    assert ids_of(pages)[194:206] == tie["ids"]
    pages = walk(http, sim.url + "/api/events", {"sort": "-timestamp", "page[size]": "1000"})
    assert len(pages) == 1
    assert len(pages[0]["data"]) == 300


def test_cursor_walk_list_members_by_joined_group_at(
    sim: KlaviyoSimulator, http: requests.Session
) -> None:
    notes = sim.data.notes["list_joined_tie"]
    url = f"{sim.url}/api/lists/{notes['list_id']}/profiles"
    pages = walk(http, url, {"sort": "joined_group_at"})
    members = sim.data.members("list", notes["list_id"])
    assert ids_of(pages) == sorted(members, key=lambda p: (members[p], p))
    joined = [p["attributes"]["joined_group_at"] for page in pages for p in page["data"]]
    assert joined[17:23] == [LIST_JOINED_TIE] * 6
    assert len(pages[0]["data"]) == 20
    ids = walk(
        http, url.replace("/profiles", "/relationships/profiles"), {"sort": "joined_group_at"}
    )
    assert ids_of(ids) == ids_of(pages)
    expression = f"greater-or-equal(joined_group_at,{LIST_JOINED_TIE})"
    assert len(ids_of(walk(http, url, {"filter": expression}))) == 45 - 17


@settings(max_examples=12, deadline=None)
@given(
    size=st.integers(min_value=3, max_value=100),
    sort=st.sampled_from(["created", "-created", "updated", "-updated", "email", "-id"]),
    cut=st.integers(min_value=0, max_value=119),
)
def test_any_walk_sees_each_matching_profile_once_in_order(
    sim: KlaviyoSimulator, size: int, sort: str, cut: int
) -> None:
    field = sort.lstrip("-")
    profiles = sorted(sim.data.get("profile"), key=lambda p: (p["attributes"]["created"], p["id"]))
    bound = profiles[cut]["attributes"]["created"]
    params = {"sort": sort, "page[size]": str(size), "filter": f"greater-than(created,{bound})"}
    with requests.Session() as http:
        http.headers.update(headers_for(sim.api_key))
        seen = ids_of(walk(http, sim.url + "/api/profiles", params))

    def key(p: dict[str, Any]) -> tuple[Any, ...]:
        value = p["id"] if field == "id" else p["attributes"][field]
        return (value is not None, value or "", p["id"])

    matching = [p for p in profiles if p["attributes"]["created"] > bound]
    expected = [p["id"] for p in sorted(matching, key=key, reverse=sort.startswith("-"))]
    assert seen == expected


def test_next_link_is_a_full_url_repeating_the_query(
    sim: KlaviyoSimulator, http: requests.Session
) -> None:
    params = {
        "filter": "greater-than(datetime,2024-01-01T00:00:00+00:00)",
        "sort": "datetime",
        "page[size]": "50",
        "include": "metric",
        "fields[event]": "datetime,timestamp",
    }
    body = get(http, sim, "/api/events", **params).json()
    next_url = body["links"]["next"]
    parts = urlsplit(next_url)
    assert f"{parts.scheme}://{parts.netloc}" == sim.url
    assert parts.path == "/api/events"
    query = parse_qs(parts.query)
    assert query.pop("page[cursor]")
    assert {k: v[0] for k, v in query.items()} == params
    assert body["links"]["self"].startswith(sim.url + "/api/events?")
    assert set(body["data"][0]["attributes"]) == {"datetime", "timestamp"}


def test_bad_cursors_are_400(sim: KlaviyoSimulator, http: requests.Session) -> None:
    body = get(http, sim, "/api/profiles", sort="updated").json()
    cursor = parse_qs(urlsplit(body["links"]["next"]).query)["page[cursor]"][0]
    tampered = cursor[:5] + ("A" if cursor[5] != "A" else "B") + cursor[6:]
    for params in (
        {"sort": "updated", "page[cursor]": tampered},
        {"sort": "updated", "page[cursor]": "garbage"},
        {"sort": "created", "page[cursor]": cursor},  # another query's cursor
        {"sort": "updated", "page[size]": "50", "page[cursor]": cursor},
    ):
        response = get(http, sim, "/api/profiles", **params)
        assert response.status_code == 400, params
        assert error_of(response)["source"] == {"parameter": "page[cursor]"}
    assert get(http, sim, "/api/profiles", sort="updated", **{"page[cursor]": cursor}).ok


# -- include and additional fields ---------------------------------------------------------


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


# -- rate limits ---------------------------------------------------------------------------


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


# -- faults --------------------------------------------------------------------------------


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


# -- data, logging, concurrency ------------------------------------------------------------


def test_mutations_show_up_in_later_requests() -> None:
    with KlaviyoSimulator() as fresh, requests.Session() as http:
        http.headers.update(headers_for(fresh.api_key))
        url = fresh.url + "/api/profiles"
        newer = {"filter": f"greater-than(updated,{PROFILE_UPDATED_TIE})", "page[size]": "100"}
        before = set(ids_of(walk(http, url, newer)))
        target = fresh.data.notes["profile_updated_tie"]["ids"][0]
        fresh.data.advance(60)
        updated = fresh.data.update("profile", target, first_name="Changed ✓")
        assert updated["attributes"]["updated"] == "2026-11-20T12:01:00+00:00"
        fresh.data.add(
            "profile",
            {
                "type": "profile",
                "id": "01ZZZZZZZZZZZZZZZZZZZZZZZZ",
                "attributes": {
                    "email": "new@example.com",
                    "created": fresh.data.now_iso(),
                    "updated": fresh.data.now_iso(),
                },
            },
        )
        gone = sorted(before)[0]
        fresh.data.delete("profile", gone)
        after = set(ids_of(walk(http, url, newer)))
        assert after == (before - {gone}) | {target, "01ZZZZZZZZZZZZZZZZZZZZZZZZ"}
        single = http.get(f"{url}/{target}", timeout=5).json()["data"]
        assert single["attributes"]["first_name"] == "Changed ✓"
        assert http.get(f"{url}/{gone}", timeout=5).status_code == 404


def test_seed_data_is_deterministic_and_spec_shaped() -> None:
    first, again, other = SimData.default(0), SimData.default(0), SimData.default(1)
    assert first.get("profile") == again.get("profile")
    assert first.get("event") == again.get("event")
    assert first.get("profile") != other.get("profile")
    now = first.now().isoformat()
    for kind, stamp in (("profile", "updated"), ("event", "datetime"), ("list", "created")):
        for resource in first.get(kind):
            value = resource["attributes"][stamp]
            assert KLAVIYO_TIME.match(value), value
            assert value < now
    for event in first.get("event"):
        assert isinstance(event["attributes"]["timestamp"], int)
        assert event["relationships"]["profile"]["data"]["type"] == "profile"
    counts = {kind: first.count(kind) for kind in first.types()}
    assert counts["profile"] == 120
    assert counts["event"] == 300
    assert min(counts.values()) >= 1


def test_big_integers_and_unicode_survive_the_wire(
    sim: KlaviyoSimulator, http: requests.Session
) -> None:
    big_ids = sim.data.notes["profile_big_int_ids"]
    body = get(http, sim, "/api/profiles", filter=f"equals(id,'{big_ids[0]}')").json()
    properties = body["data"][0]["attributes"]["properties"]
    assert properties["big_number"] > 2**64
    assert properties["emoji_key_🎉"] == "yes"
    # UTF-8 on the wire, not \u escapes.
    assert "Sim Störe".encode() in http.get(sim.url + "/api/accounts", timeout=5).content


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
    assert len(set(results[0])) == 300


def test_latency_and_bulk_data() -> None:
    data = SimData.bulk(events=3000, profiles=300, seed=0)
    with KlaviyoSimulator(data=data, latency=0.2) as slow, requests.Session() as http:
        http.headers.update(headers_for(slow.api_key))
        started = time.monotonic()
        pages = walk(http, slow.url + "/api/events", {"page[size]": "1000"})
        elapsed = time.monotonic() - started
        assert len(pages) == 3
        assert len(set(ids_of(pages))) == 3000
        assert elapsed >= 0.6
        total = len(ids_of(walk(http, slow.url + "/api/profiles", {"page[size]": "100"})))
        assert total == 300


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


# -- responses match the spec's schemas (only where the full spec is available) ------------

FULL_SPEC = (
    Path(__file__).resolve().parent.parent.parent / "shared" / "klaviyo-openapi" / "stable.json"
)


def _strict_schemas(spec: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI 3.0 components as JSON Schema, closed: undeclared attributes are errors."""
    components = spec["components"]["schemas"]

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = components[node["$ref"].rsplit("/", 1)[-1]]
        return node

    def merge(into: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
        out = dict(into)
        for key, value in extra.items():
            if key == "properties":
                props = dict(out.get("properties", {}))
                for name, sub in value.items():
                    props[name] = {"allOf": [props[name], sub]} if name in props else sub
                out["properties"] = props
            elif key == "required":
                out["required"] = [*out.get("required", []), *value]
            else:
                out.setdefault(key, value)
        return out

    def flatten(node: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in node.items() if k != "allOf"}
        for member in node["allOf"]:
            member = resolve(member)
            out = merge(out, flatten(member) if "allOf" in member else member)
        return out

    def convert(node: Any) -> Any:
        if isinstance(node, list):
            return [convert(n) for n in node]
        if not isinstance(node, dict):
            return node
        if "allOf" in node:
            node = flatten(node)
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref":
                out["$ref"] = "#/definitions/" + value.rsplit("/", 1)[-1]
            elif key == "oneOf":
                out["anyOf"] = convert(value)  # the spec's alternatives overlap
            elif key == "properties":
                out[key] = {name: convert(sub) for name, sub in value.items()}
            elif key not in ("nullable", "example", "discriminator", "readOnly", "deprecated"):
                out[key] = convert(value)
        if "properties" in node and "additionalProperties" not in node:
            out["additionalProperties"] = False
        if node.get("nullable"):
            out = {"anyOf": [out, {"type": "null"}]}
        return out

    return {name: convert(schema) for name, schema in components.items()}


@pytest.mark.skipif(not FULL_SPEC.exists(), reason="the full OpenAPI spec is not available")
def test_responses_match_the_spec_response_schemas(
    sim: KlaviyoSimulator, http: requests.Session
) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    spec = json.loads(FULL_SPEC.read_text(encoding="utf-8"))
    definitions = _strict_schemas(spec)
    operations = {
        op["operationId"]: op
        for item in spec["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    }
    notes = sim.data.notes
    profile_fields = {"additional-fields[profile]": "subscriptions,predictive_analytics"}
    cases: list[tuple[str, str, dict[str, str]]] = [
        ("get_accounts", "/api/accounts", {}),
        ("get_profiles", "/api/profiles", {**profile_fields, "include": "push-tokens"}),
        ("get_events", "/api/events", {"page[size]": "1000", "include": "profile,metric"}),
        ("get_metrics", "/api/metrics", {}),
        ("get_lists", "/api/lists", {"include": "tags"}),
        ("get_segments", "/api/segments", {"include": "tags"}),
        ("get_flows", "/api/flows", {"include": "flow-actions,tags"}),
        ("get_templates", "/api/templates", {"additional-fields[template]": "definition"}),
        ("get_all_universal_content", "/api/template-universal-content", {}),
        ("get_tags", "/api/tags", {"include": "tag-group"}),
        ("get_tag_groups", "/api/tag-groups", {}),
        ("get_coupons", "/api/coupons", {}),
        ("get_catalog_items", "/api/catalog-items", {"include": "variants"}),
        ("get_catalog_variants", "/api/catalog-variants", {}),
        ("get_catalog_categories", "/api/catalog-categories", {}),
        ("get_images", "/api/images", {}),
        ("get_forms", "/api/forms", {}),
        ("get_webhooks", "/api/webhooks", {}),
        ("get_reviews", "/api/reviews", {}),
        ("get_push_tokens", "/api/push-tokens", {"include": "profile"}),
        (
            "get_profiles_for_list",
            f"/api/lists/{notes['list_joined_tie']['list_id']}/profiles",
            profile_fields,
        ),
        (
            "get_profiles_for_segment",
            f"/api/segments/{notes['segment_joined_tie']['segment_id']}/profiles",
            {},
        ),
    ]
    for channel in ("email", "sms", "mobile_push"):
        expression = f"equals(messages.channel,'{channel}')"
        for archived in ("true", "false"):
            params = {
                "filter": f"{expression},equals(archived,{archived})",
                "include": "campaign-messages,tags",
            }
            cases.append(("get_campaigns", "/api/campaigns", params))
    metric = sim.data.ids("metric")[0]
    sample = {"additional-fields[metric-property]": "sample_values"}
    cases.append(("get_properties_for_metric", f"/api/metrics/{metric}/metric-properties", sample))
    for campaign in sim.data.ids("campaign"):
        cases.append(
            ("get_messages_for_campaign", f"/api/campaigns/{campaign}/campaign-messages", {})
        )
        cases.append(
            ("get_tag_ids_for_campaign", f"/api/campaigns/{campaign}/relationships/tags", {})
        )
    for flow in sim.data.ids("flow"):
        cases.append(("get_actions_for_flow", f"/api/flows/{flow}/flow-actions", {}))
    for action in sim.data.ids("flow-action"):
        cases.append(("get_flow_action_messages", f"/api/flow-actions/{action}/flow-messages", {}))
    for coupon in sim.data.ids("coupon"):
        cases.append(("get_coupon_codes_for_coupon", f"/api/coupons/{coupon}/coupon-codes", {}))
    for form in sim.data.ids("form"):
        cases.append(("get_versions_for_form", f"/api/forms/{form}/form-versions", {}))
    item = notes["catalog"]["items"][0]
    cases.append(
        (
            "get_category_ids_for_catalog_item",
            f"/api/catalog-items/{item}/relationships/categories",
            {},
        )
    )

    failures = []
    for operation_id, path, params in cases:
        content = operations[operation_id]["responses"]["200"]["content"]
        schema = next(iter(content.values()))["schema"]
        validator = jsonschema.Draft7Validator(
            {
                "definitions": definitions,
                "$ref": "#/definitions/" + schema["$ref"].rsplit("/", 1)[-1],
            }
        )
        query = dict(params)
        largest = sim.spec.operations[operation_id].page_size_max
        if largest:
            query.setdefault("page[size]", str(largest))
        for page in walk(http, sim.url + path, query):
            for error in validator.iter_errors(page):
                failures.append(
                    f"{operation_id} {list(error.absolute_path)}: {error.message[:200]}"
                )
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


_BOUND_VALUES = st.sampled_from(
    [
        "2026-03-01T00:00:00+00:00",
        "2026-03-01T00:00:00.500000+00:00",
        "2026-03-01T01:00:00+01:00",
        "2026-03-02T00:00:00Z",
        "2026-02-28T23:59:59+00:00",
    ]
)


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), st.just("not a date"), _BOUND_VALUES), max_size=25),
    lower=st.tuples(st.sampled_from(["greater-than", "greater-or-equal", None]), _BOUND_VALUES),
    upper=st.tuples(st.sampled_from(["less-than", "less-or-equal", None]), _BOUND_VALUES),
)
def test_indexed_range_selects_what_row_by_row_filtering_selects(
    values: list[str | None], lower: tuple[str | None, str], upper: tuple[str | None, str]
) -> None:
    """The sorted-index shortcut agrees with matching every row: ties, offsets, nulls, text."""
    from klaviyo_sim import query
    from klaviyo_sim.filters import parse_filter

    data = SimData.empty()
    for n, value in enumerate(values):
        data.add("profile", {"type": "profile", "id": f"p{n:02}", "attributes": {"updated": value}})
    parts = [f"{op}(updated,{value})" for op, value in (lower, upper) if op]
    conditions = parse_filter(",".join(parts) or "greater-than(updated,2000-01-01T00:00:00Z)")
    found = query.select(data, None, "profile", conditions, "updated")
    rows = [(r, None) for r in data.stored("profile").values()]
    expected = query.select(data, rows, "profile", conditions, "updated")
    assert [r[0]["id"] for r in found.rows] == [r[0]["id"] for r in expected.rows]
