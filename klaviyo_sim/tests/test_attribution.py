"""Event attribution (README "Event attribution"): message events with ``$message``/``$flow``,
attributed orders, ``include=attributions`` over HTTP, agreement with the reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import requests

from klaviyo_sim import KlaviyoSimulator, SimData
from klaviyo_sim.reports.dates import account_zone
from klaviyo_sim.reports.facts import FactBuilder, campaign_owner, flow_owner
from klaviyo_sim.seed.attribution import CUTOFF, STORIES
from klaviyo_sim.tests.conftest import get, ids_of, walk

RELATIONSHIPS = {
    "event",
    "attributed-event",
    "campaign",
    "campaign-message",
    "flow",
    "flow-message",
    "flow-message-variation",
}


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def metric_of(data: SimData, name: str) -> str:
    return next(m["id"] for m in data.get("metric") if m["attributes"]["name"] == name)


def properties(data: SimData, event_id: str) -> dict[str, Any]:
    event = data.get_one("event", event_id)
    assert event is not None
    return event["attributes"]["event_properties"]


def test_stories_are_told_after_the_default_events_and_keep_their_positions() -> None:
    data = SimData.default(0)
    notes = data.notes["attribution"]
    assert len(notes["stories"]) == STORIES
    assert data.count("event") == 300 + 39
    assert len(notes["attributed_orders"]) == 9 == data.count("attribution")
    added = {e for story in notes["stories"] for k, e in story.items() if k in STEPS}
    assert len(added) == 39
    for event_id in added:
        assert instant(data.get_one("event", event_id)["attributes"]["datetime"]) >= CUTOFF
    # The default events keep their places: the ties straddle the same page boundaries.
    order = sorted(data.get("event"), key=lambda e: (instant(e["attributes"]["datetime"]), e["id"]))
    ids = [e["id"] for e in order]
    tie = data.notes["event_datetime_tie"]
    assert ids[194:206] == tie["ids"] and tie["positions"] == (194, 205)
    assert ids[97:104] == data.notes["event_datetime_tie_2"]["ids"]
    assert {s["kind"] for s in notes["stories"]} == {"click", "open", "none"}
    assert {"campaign" in s for s in notes["stories"]} == {True, False}


STEPS = ("received", "opened", "clicked", "order")


def test_message_events_name_their_message_as_peers_read_them() -> None:
    """Estuary's rule: ``$flow`` present, ``$message`` is a flow message; otherwise, with a
    ``Campaign Name``, ``$message`` is the campaign."""
    data = SimData.default(0)
    names = {"received": "Received Email", "opened": "Opened Email", "clicked": "Clicked Email"}
    for story in data.notes["attribution"]["stories"]:
        for step, metric in names.items():
            if step not in story:
                continue
            event = data.get_one("event", story[step])
            assert event["relationships"]["metric"]["data"]["id"] == metric_of(data, metric)
            assert event["relationships"]["profile"]["data"]["id"] == story["profile"]
            props = event["attributes"]["event_properties"]
            if "$flow" in props:
                assert props["$flow"] == story["flow"]
                assert data.get_one("flow-message", props["$message"]) is not None
                assert "Campaign Name" not in props
            else:
                campaign = data.get_one("campaign", props["$message"])
                assert campaign["attributes"]["name"] == props["Campaign Name"]
                assert props["$message"] == story["campaign"]
                assert campaign["attributes"]["status"] == "Sent"
                send = instant(campaign["attributes"]["send_time"])
                assert send <= instant(event["attributes"]["datetime"])
        received = properties(data, story["received"])
        assert received["$attribution"] == {"$send_ts": 0, "$attributed_event_id": ""}


def test_attributed_orders_point_at_their_message_and_engagement() -> None:
    data = SimData.default(0)
    zone = account_zone(data)
    probe = FactBuilder()
    probe.data = data
    sent = probe._sent_campaign_messages(data.now())
    live = probe._live_flow_messages(zone)
    placed = metric_of(data, "Placed Order")
    for story in data.notes["attribution"]["stories"]:
        if "order" not in story:
            continue
        order = data.get_one("event", story["order"])
        assert order["relationships"]["metric"]["data"]["id"] == placed
        props = order["attributes"]["event_properties"]
        attribution = props["$attribution"]
        by = story["clicked"] if story["kind"] == "click" else story["opened"]
        assert attribution["$attributed_event_id"] == by
        engaged = data.get_one("event", by)
        when = instant(order["attributes"]["datetime"])
        assert instant(engaged["attributes"]["datetime"]) < when
        assert engaged["relationships"]["profile"] == order["relationships"]["profile"]
        assert attribution["$send_ts"] <= engaged["attributes"]["timestamp"]
        assert when.timestamp() - attribution["$send_ts"] < 5 * 86400
        assert props["$attributed_channel"] == "email"
        # The reports credit the same message with the conversion.
        if "campaign" in story:
            assert props["$attributed_message"] == story["campaign"] == attribution["$campaign"]
            owner = campaign_owner(when, sent)
            assert owner is not None and owner["campaign"]["id"] == story["campaign"]
        else:
            assert props["$attributed_flow"] == story["flow"] == attribution["$flow"]
            assert props["$attributed_message"] == story["message"]
            assert campaign_owner(when, sent) is None
            owner = flow_owner(order["id"], when.astimezone(zone).date(), live)
            assert owner is not None and owner["message"]["id"] == story["message"]
        (link,) = order["relationships"]["attributions"]["data"]
        resource = data.get_one("attribution", link["id"])
        assert resource["attributes"] == {}
        rels = {k: v["data"]["id"] for k, v in resource["relationships"].items()}
        expected = {"event": order["id"], "attributed-event": by}
        if "campaign" in story:
            expected |= {"campaign": story["campaign"], "campaign-message": story["message"]}
        else:
            expected |= {"flow": story["flow"], "flow-message": story["message"]}
        assert rels == expected


def test_include_attributions_over_http(sim: KlaviyoSimulator, http: requests.Session) -> None:
    placed = metric_of(sim.data, "Placed Order")
    query = {
        "filter": f"equals(metric_id,'{placed}')",
        "include": "attributions",
        "page[size]": "13",
    }
    pages = walk(http, sim.url + "/api/events", query)
    attributed = set(sim.data.notes["attribution"]["attributed_orders"])
    seen = set()
    for page in pages:
        included = {r["id"]: r for r in page.get("included", [])}
        referenced = set()
        for event in page["data"]:
            data = event["relationships"]["attributions"]["data"]
            assert set(event["relationships"]["attributions"]["links"]) == {"self", "related"}
            assert bool(data) == (event["id"] in attributed)
            for ref in data:
                assert ref["type"] == "attribution"
                referenced.add(ref["id"])
                resource = included[ref["id"]]
                assert resource["type"] == "attribution"
                assert "attributes" not in resource
                assert set(resource["relationships"]) == RELATIONSHIPS
                rels = resource["relationships"]
                assert rels["event"]["data"] == {"type": "event", "id": event["id"]}
                assert rels["attributed-event"]["data"]["type"] == "event"
                assert all(set(r["links"]) == {"self", "related"} for r in rels.values())
                has = {k for k, r in rels.items() if "data" in r}
                assert has in (
                    {"event", "attributed-event", "campaign", "campaign-message"},
                    {"event", "attributed-event", "flow", "flow-message"},
                )
                assert resource["links"]["self"].startswith(sim.url)
                seen.add(event["id"])
        assert referenced == set(included)
    assert seen == attributed
    # Without include: links only, and nothing included.
    plain = get(http, sim, "/api/events", filter=f"equals(metric_id,'{placed}')").json()
    assert "included" not in plain
    assert all("data" not in e["relationships"]["attributions"] for e in plain["data"])
    # A single event, and the sparse fieldset the spec allows (fields[attribution]=id).
    order = sorted(attributed)[0]
    one = get(
        http, sim, f"/api/events/{order}", include="attributions", **{"fields[attribution]": "id"}
    ).json()
    (ref,) = one["data"]["relationships"]["attributions"]["data"]
    assert [r["id"] for r in one["included"]] == [ref["id"]]
    assert "attributes" not in one["included"][0]


def test_message_events_can_be_filtered_and_aggregated_by_message(
    sim: KlaviyoSimulator, http: requests.Session
) -> None:
    received = metric_of(sim.data, "Received Email")
    query = {"filter": f"equals(metric_id,'{received}')"}
    ids = ids_of(walk(http, sim.url + "/api/events", query))
    assert sorted(ids) == sorted(s["received"] for s in sim.data.notes["attribution"]["stories"])
