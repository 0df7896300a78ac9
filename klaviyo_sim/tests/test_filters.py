"""``filter``: validated against the spec, with Klaviyo's semantics; campaigns need a channel."""

from __future__ import annotations

from datetime import datetime

import pytest
import requests

from klaviyo_sim import KlaviyoSimulator
from klaviyo_sim.seed import EVENT_DATETIME_TIE, PROFILE_UPDATED_TIE
from klaviyo_sim.tests.conftest import error_of, get, ids_of, walk


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
    assert count("/api/events", "has(metric)") == sim.data.count("event") == 339
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
