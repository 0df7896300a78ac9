"""Consent and suppression (README "Consent and suppression"): the seed's suppressions, the
spec's filters and sorts on them over HTTP, and ``SimData.suppress``/``unsuppress``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import requests

from klaviyo_sim import KlaviyoSimulator, SimData
from klaviyo_sim.consent import SUPPRESSION_REASONS
from klaviyo_sim.filters import parse_filter
from klaviyo_sim.query import field_values
from klaviyo_sim.seed.consent import BULK_POSITIONS, LIST_SUPPRESSION_TIE
from klaviyo_sim.tests.conftest import error_of, get, headers_for, ids_of, walk

GLOBAL = "subscriptions.email.marketing.suppression"
LISTS = "subscriptions.email.marketing.list_suppressions"
SUBSCRIPTIONS = {"additional-fields[profile]": "subscriptions"}


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def marketing(profile: dict[str, Any]) -> dict[str, Any]:
    return profile["attributes"]["subscriptions"]["email"]["marketing"]


def stamps(profile: dict[str, Any], key: str) -> list[datetime]:
    return [instant(e["timestamp"]) for e in marketing(profile)[key] or []]


# -- the seed ------------------------------------------------------------------------------------


def test_seed_suppressions_are_consistent() -> None:
    data = SimData.default(0)
    notes = data.notes["consent"]
    profiles = data.get("profile")
    reasons = {e["reason"] for p in profiles for e in marketing(p)["suppression"]}
    assert reasons == set(SUPPRESSION_REASONS)
    assert {r: len(ids) for r, ids in notes["suppressed"].items()} == {
        "UNSUBSCRIBE": 38,
        "HARD_BOUNCE": 11,
        "SPAM_COMPLAINT": 4,
        "INVALID_EMAIL": 3,
        "USER_SUPPRESSED": 7,
    }
    lists = set(data.ids("list"))
    for profile in profiles:
        attrs, email = profile["attributes"], marketing(profile)
        # The spec: "True if it does profile does not have any global suppressions".
        assert email["can_receive_email_marketing"] == (
            bool(attrs["email"]) and not email["suppression"]
        )
        if email["consent"] == "UNSUBSCRIBED" and attrs["email"]:
            assert "UNSUBSCRIBE" in {e["reason"] for e in email["suppression"]}
        for entry in email["list_suppressions"]:
            assert entry["list_id"] in lists
            assert profile["id"] not in data.members("list", entry["list_id"])
        every = stamps(profile, "suppression") + stamps(profile, "list_suppressions")
        assert all(instant(attrs["created"]) <= s < data.now() for s in every)
        if every:
            assert instant(email["last_updated"]) >= max(every)
    assert len(notes["list_suppressed"]) == 10
    assert all(
        len(marketing(data.get_one("profile", p))["list_suppressions"]) >= 2
        for p in notes["multi_list_suppressed"]
    )
    tie = notes["list_suppression_tie"]
    assert tie["timestamp"] == LIST_SUPPRESSION_TIE and len(tie["ids"]) == 3
    for seed in (0, 1, 7):
        bulk = SimData.default(seed).notes["consent"]["bulk_suppression_tie"]
        assert tuple(bulk["positions"]) == BULK_POSITIONS and len(bulk["ids"]) == 5
    sms = [p["attributes"]["subscriptions"]["sms"] for p in profiles]
    assert sum(1 for s in sms if s["transactional"]) >= 10
    assert [s["marketing"]["method_detail"] for s in sms].count("STOP") == 3


# -- filters -------------------------------------------------------------------------------------


def _expected(
    data: SimData, key: str, member: str, test: Any, profiles: list[dict[str, Any]] | None = None
) -> set[str]:
    """Profiles with any element of the array ``key`` whose ``member`` passes ``test``."""
    return {
        p["id"]
        for p in profiles or data.get("profile")
        if any(test(e[member]) for e in marketing(p)[key] or [])
    }


@pytest.mark.parametrize("key", ["suppression", "list_suppressions"])
@pytest.mark.parametrize(
    ("operator", "test"),
    [
        ("greater-than", lambda have, bound: have > bound),
        ("greater-or-equal", lambda have, bound: have >= bound),
        ("less-than", lambda have, bound: have < bound),
        ("less-or-equal", lambda have, bound: have <= bound),
    ],
)
def test_timestamp_filters_match_a_profile_if_any_element_matches(
    sim: KlaviyoSimulator, http: requests.Session, key: str, operator: str, test: Any
) -> None:
    field = f"subscriptions.email.marketing.{key}.timestamp"
    bounds = [
        LIST_SUPPRESSION_TIE,
        sim.data.notes["consent"]["bulk_suppression_tie"]["timestamp"],
        "2025-06-01T00:00:00+00:00",
    ]
    for bound in bounds:
        expression = f"{operator}({field},{bound})"
        got = ids_of(walk(http, sim.url + "/api/profiles", {"filter": expression}))
        expected = _expected(
            sim.data, key, "timestamp", lambda s, b=bound: test(instant(s), instant(b))
        )
        assert len(got) == len(set(got)) and set(got) == expected, expression
        assert expected, expression
        # The same as the simulator's own filter engine: any value of the path matches.
        (condition,) = parse_filter(expression)
        with sim.data.lock:
            engine = {
                p["id"]
                for p in sim.data.stored("profile").values()
                if condition.matches(field_values(sim.data, (p, None), field))
            }
        assert engine == expected


def test_reason_and_list_filters(sim: KlaviyoSimulator, http: requests.Session) -> None:
    data = sim.data
    for reason in SUPPRESSION_REASONS:
        got = ids_of(
            walk(http, sim.url + "/api/profiles", {"filter": f"equals({GLOBAL}.reason,'{reason}')"})
        )
        assert set(got) == _expected(data, "suppression", "reason", lambda r, x=reason: r == x)
        assert got
    for reason in ("UNSUBSCRIBE", "USER_SUPPRESSED"):
        query = {"filter": f"equals({LISTS}.reason,'{reason}')"}
        got = ids_of(walk(http, sim.url + "/api/profiles", query))
        assert set(got) == _expected(
            data, "list_suppressions", "reason", lambda r, x=reason: r == x
        )
        assert got
    profile = data.get_one("profile", data.notes["consent"]["multi_list_suppressed"][0])
    for entry in marketing(profile)["list_suppressions"]:
        query = {"filter": f"equals({LISTS}.list_id,'{entry['list_id']}')"}
        got = ids_of(walk(http, sim.url + "/api/profiles", query))
        assert profile["id"] in got
        assert set(got) == _expected(
            data, "list_suppressions", "list_id", lambda i, x=entry["list_id"]: i == x
        )
    # Combined: suppressed for a reason after a time (and(...) of both).
    since = "2025-01-01T00:00:00+00:00"
    query = {
        "filter": f"equals({GLOBAL}.reason,'UNSUBSCRIBE'),greater-than({GLOBAL}.timestamp,{since})"
    }
    got = set(ids_of(walk(http, sim.url + "/api/profiles", query)))
    assert got == {
        p["id"]
        for p in data.get("profile")
        for e in marketing(p)["suppression"]
        if e["reason"] == "UNSUBSCRIBE" and instant(e["timestamp"]) > instant(since)
    }


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"filter": f"equals({GLOBAL}.timestamp,2025-01-01T00:00:00Z)"}, "filter"),
        ({"filter": f"greater-than({GLOBAL}.timestamp,'2025-01-01T00:00:00Z')"}, "filter"),
        ({"filter": f"any({GLOBAL}.reason,['UNSUBSCRIBE'])"}, "filter"),
        ({"filter": f"contains({LISTS}.list_id,'x')"}, "filter"),
        ({"filter": f"greater-than({LISTS}.reason,'A')"}, "filter"),
        ({"sort": f"{LISTS}.list_id"}, "sort"),
        ({"sort": f"{GLOBAL}.reason"}, "sort"),
    ],
)
def test_operators_and_sorts_the_spec_does_not_list_are_400(
    sim: KlaviyoSimulator, http: requests.Session, params: dict[str, str], parameter: str
) -> None:
    response = get(http, sim, "/api/profiles", **params)
    assert response.status_code == 400, params
    assert error_of(response)["source"] == {"parameter": parameter}


# -- sorts ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["suppression", "list_suppressions"])
@pytest.mark.parametrize("size", ["20", "7", "100"])
def test_sorting_by_an_array_uses_its_earliest_ascending_and_latest_descending(
    sim: KlaviyoSimulator, http: requests.Session, key: str, size: str
) -> None:
    field = f"subscriptions.email.marketing.{key}.timestamp"
    everything = {"filter": f"greater-than({field},2000-01-01T00:00:00Z)", "page[size]": size}
    profiles = {p["id"]: p for p in sim.data.get("profile")}
    for descending in (False, True):
        query = {**everything, "sort": ("-" if descending else "") + field}
        got = ids_of(walk(http, sim.url + "/api/profiles", query))
        pick = max if descending else min
        keyed = sorted(((pick(stamps(profiles[i], key)), i) for i in got), reverse=descending)
        assert got == [i for _, i in keyed], (key, descending)
        assert len(got) == len(set(got))
    # Several list suppressions: where a profile sorts depends on the direction.
    if key == "list_suppressions":
        multi = sim.data.notes["consent"]["multi_list_suppressed"]
        ascending = ids_of(walk(http, sim.url + "/api/profiles", {**everything, "sort": field}))
        descending_ids = ids_of(
            walk(http, sim.url + "/api/profiles", {**everything, "sort": "-" + field})
        )
        assert ascending != list(reversed(descending_ids))
        assert set(multi) <= set(ascending)


def test_the_bulk_suppression_tie_straddles_a_page_boundary(
    sim: KlaviyoSimulator, http: requests.Session
) -> None:
    tie = sim.data.notes["consent"]["bulk_suppression_tie"]
    query = {
        "filter": f"greater-than({GLOBAL}.timestamp,2000-01-01T00:00:00Z)",
        "sort": f"{GLOBAL}.timestamp",
        **SUBSCRIPTIONS,
    }
    pages = walk(http, sim.url + "/api/profiles", query)
    ids = ids_of(pages)
    first, last = tie["positions"]
    assert (first, last) == BULK_POSITIONS
    assert sorted(ids[first : last + 1]) == ids[first : last + 1] == tie["ids"]
    assert first < 40 <= last
    shown = [
        min(
            e["timestamp"]
            for e in p["attributes"]["subscriptions"]["email"]["marketing"]["suppression"]
        )
        for page in pages
        for p in page["data"]
    ]
    assert shown[first : last + 1] == [tie["timestamp"]] * (last - first + 1)
    # Without a filter every profile is listed: those never suppressed (null) come first.
    unfiltered = ids_of(walk(http, sim.url + "/api/profiles", {"sort": f"{GLOBAL}.timestamp"}))
    never = {p["id"] for p in sim.data.get("profile") if not marketing(p)["suppression"]}
    assert set(unfiltered[: len(never)]) == never and unfiltered[len(never) :] == ids


# -- suppress and unsuppress ---------------------------------------------------------------------


@pytest.fixture
def fresh() -> Iterator[tuple[KlaviyoSimulator, requests.Session]]:
    with KlaviyoSimulator(seed=0) as running, requests.Session() as session:
        session.headers.update(headers_for(running.api_key))
        yield running, session


def _profile(sim: KlaviyoSimulator, http: requests.Session, profile_id: str) -> dict[str, Any]:
    body = get(http, sim, f"/api/profiles/{profile_id}", **SUBSCRIPTIONS).json()
    return body["data"]


def _since(sim: KlaviyoSimulator, http: requests.Session, field: str, since: str) -> list[str]:
    query = {"filter": f"greater-than({field}.timestamp,{since})", "sort": f"{field}.timestamp"}
    return ids_of(walk(http, sim.url + "/api/profiles", query))


def test_suppress_and_unsuppress_globally(
    fresh: tuple[KlaviyoSimulator, requests.Session],
) -> None:
    sim, http = fresh
    data = sim.data
    clean = next(
        p
        for p in data.get("profile")
        if p["attributes"]["email"] and not marketing(p)["suppression"]
    )
    before = _profile(sim, http, clean["id"])
    assert marketing(before)["can_receive_email_marketing"] is True
    data.advance(3600)
    mark = data.now_iso()
    data.advance(60)
    data.suppress(clean["id"])  # USER_SUPPRESSED, now
    after = _profile(sim, http, clean["id"])
    assert marketing(after)["suppression"] == [
        {"reason": "USER_SUPPRESSED", "timestamp": data.now_iso()}
    ]
    assert marketing(after)["can_receive_email_marketing"] is False
    assert marketing(after)["last_updated"] == data.now_iso()
    # The documented choice: the profile's updated does not move.
    assert after["attributes"]["updated"] == before["attributes"]["updated"]
    assert _since(sim, http, GLOBAL, mark) == [clean["id"]]
    assert not get(http, sim, "/api/profiles", filter=f"greater-than(updated,{mark})").json()[
        "data"
    ]
    # Suppressing again for the same reason changes nothing.
    data.advance(60)
    data.suppress(clean["id"])
    assert (
        marketing(_profile(sim, http, clean["id"]))["suppression"]
        == marketing(after)["suppression"]
    )

    data.advance(60)
    data.unsuppress(clean["id"])
    gone = _profile(sim, http, clean["id"])
    assert marketing(gone)["suppression"] == []
    assert marketing(gone)["can_receive_email_marketing"] is True
    assert marketing(gone)["last_updated"] == data.now_iso()
    assert gone["attributes"]["updated"] == before["attributes"]["updated"]
    # Un-suppression leaves no timestamp: no filter on it can find the change.
    assert _since(sim, http, GLOBAL, mark) == []


def test_unsuppress_removes_only_user_suppressed_by_default(
    fresh: tuple[KlaviyoSimulator, requests.Session],
) -> None:
    sim, http = fresh
    data = sim.data
    bounced = data.notes["consent"]["suppressed"]["HARD_BOUNCE"][0]
    data.suppress(bounced, "USER_SUPPRESSED")
    reasons = {e["reason"] for e in marketing(_profile(sim, http, bounced))["suppression"]}
    assert reasons >= {"HARD_BOUNCE", "USER_SUPPRESSED"}
    data.unsuppress(bounced)
    left = marketing(_profile(sim, http, bounced))
    assert "USER_SUPPRESSED" not in {e["reason"] for e in left["suppression"]}
    assert "HARD_BOUNCE" in {e["reason"] for e in left["suppression"]}
    assert left["can_receive_email_marketing"] is False
    data.unsuppress(bounced, reasons=None)  # e.g. the profile subscribed again
    cleared = marketing(_profile(sim, http, bounced))
    assert cleared["suppression"] == []
    assert cleared["can_receive_email_marketing"] is True
    with pytest.raises(ValueError):
        data.suppress(bounced, "BORED")
    with pytest.raises(KeyError):
        data.suppress("no-such-profile")


def test_suppress_and_unsuppress_for_a_list(
    fresh: tuple[KlaviyoSimulator, requests.Session],
) -> None:
    sim, http = fresh
    data = sim.data
    profile = next(p for p in data.get("profile") if not marketing(p)["list_suppressions"])
    list_id = data.notes["empty_list_id"]
    data.advance(10)
    mark = data.now_iso()
    data.advance(10)
    data.suppress(profile["id"], "UNSUBSCRIBE", list_id=list_id)
    shown = marketing(_profile(sim, http, profile["id"]))
    assert shown["list_suppressions"] == [
        {"list_id": list_id, "reason": "UNSUBSCRIBE", "timestamp": data.now_iso()}
    ]
    # A list suppression is not a global one.
    assert shown["can_receive_email_marketing"] == (
        bool(profile["attributes"]["email"]) and not shown["suppression"]
    )
    assert _since(sim, http, LISTS, mark) == [profile["id"]]
    found = get(http, sim, "/api/profiles", filter=f"equals({LISTS}.list_id,'{list_id}')")
    assert [p["id"] for p in found.json()["data"]] == [profile["id"]]
    # The default removes USER_SUPPRESSED only; this one was an unsubscribe.
    data.unsuppress(profile["id"], list_id=list_id)
    assert marketing(_profile(sim, http, profile["id"]))["list_suppressions"]
    data.unsuppress(profile["id"], list_id=list_id, reasons=None)
    assert marketing(_profile(sim, http, profile["id"]))["list_suppressions"] == []
    assert _since(sim, http, LISTS, mark) == []
    with pytest.raises(KeyError):
        data.suppress(profile["id"], list_id="no-such-list")
