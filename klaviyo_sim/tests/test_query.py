"""Sorts, page sizes and keyset cursors: every walk sees each record once, in order."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from klaviyo_sim import KlaviyoSimulator, SimData
from klaviyo_sim.seed import LIST_JOINED_TIE, PROFILE_UPDATED_TIE
from klaviyo_sim.tests.conftest import error_of, get, headers_for, ids_of, walk


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
    assert [len(p["data"]) for p in pages] == [200, 139]
    assert ids_of(pages) == _expected_order(sim, "event", "datetime")
    tie = sim.data.notes["event_datetime_tie"]
    assert ids_of(pages)[194:206] == tie["ids"]
    pages = walk(http, sim.url + "/api/events", {"sort": "-timestamp", "page[size]": "1000"})
    assert len(pages) == 1
    assert len(pages[0]["data"]) == 339


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
