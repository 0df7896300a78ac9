"""The account's configuration (README "Account configuration"): custom and mapped metrics,
web feeds, webhook topics, the tracking setting, flow triggers, recipient estimations."""

from __future__ import annotations

from datetime import datetime

import pytest
import requests

from klaviyo_sim import KlaviyoSimulator, SimData
from klaviyo_sim.seed.configuration import WEB_FEED_UPDATED_TIE, WEBHOOK_TOPICS
from klaviyo_sim.tests.conftest import VirtualClock, error_of, get, headers_for, ids_of, walk


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_custom_metrics_and_their_metrics(sim: KlaviyoSimulator, http: requests.Session) -> None:
    body = get(http, sim, "/api/custom-metrics", include="metrics").json()
    assert len(body["data"]) == 2 and set(body["links"]) == {"self"}
    metric_ids = set(sim.data.ids("metric"))
    included = {m["id"] for m in body["included"]}
    for custom in body["data"]:
        groups = custom["attributes"]["definition"]["metric_groups"]
        linked = [m["id"] for m in custom["relationships"]["metrics"]["data"]]
        assert linked == [g["metric_id"] for g in groups]
        assert set(linked) <= metric_ids & included
        related = get(http, sim, f"/api/custom-metrics/{custom['id']}/metrics").json()["data"]
        assert [m["id"] for m in related] == sorted(linked)
    assert {c["attributes"]["definition"]["aggregation_method"] for c in body["data"]} == {
        "count",
        "value",
    }
    assert get(http, sim, "/api/custom-metrics", **{"page[size]": "1"}).status_code == 400


def test_mapped_metrics_point_at_a_metric_or_a_custom_metric(
    sim: KlaviyoSimulator, http: requests.Session
) -> None:
    body = get(http, sim, "/api/mapped-metrics", include="metric,custom-metric").json()
    assert [m["id"] for m in body["data"]] == ["ordered_product", "revenue", "viewed_product"]
    included = {(r["type"], r["id"]) for r in body["included"]}
    for mapping in body["data"]:
        rels = mapping["relationships"]
        targets = [
            (rels[r]["data"]["type"], rels[r]["data"]["id"]) for r in rels if "data" in rels[r]
        ]
        assert len(targets) == 1 and set(targets) <= included
        assert set(mapping["attributes"]) == {"updated"}
    revenue = get(http, sim, "/api/mapped-metrics/revenue/custom-metric").json()["data"]
    assert revenue["type"] == "custom-metric"
    ordered = get(http, sim, "/api/mapped-metrics/ordered_product/metric").json()["data"]
    assert ordered["attributes"]["name"] == "Placed Order"
    assert get(http, sim, "/api/mapped-metrics/revenue/metric").json()["data"] is None


@pytest.mark.parametrize("sort", ["updated", "-updated", "name", "created"])
@pytest.mark.parametrize("size", [None, "1", "2", "20"])
def test_web_feeds_paginate_and_sort(
    sim: KlaviyoSimulator, http: requests.Session, sort: str, size: str | None
) -> None:
    query = {"sort": sort, **({"page[size]": size} if size else {})}
    pages = walk(http, sim.url + "/api/web-feeds", query)
    per_page = int(size) if size else 5
    assert all(len(p["data"]) == per_page for p in pages[:-1])
    feeds = [f for p in pages for f in p["data"]]
    assert len(feeds) == 7 == len({f["id"] for f in feeds})
    field = sort.lstrip("-")

    def key(feed: dict) -> tuple:
        value = feed["attributes"][field]
        return (instant(value) if field != "name" else value, feed["id"])

    assert feeds == sorted(feeds, key=key, reverse=sort.startswith("-"))


def test_web_feed_updated_tie_and_filters(sim: KlaviyoSimulator, http: requests.Session) -> None:
    tie = sim.data.notes["configuration"]["web_feed_updated_tie"]
    ids = ids_of(walk(http, sim.url + "/api/web-feeds", {"sort": "updated"}))
    first, last = WEB_FEED_UPDATED_TIE
    assert ids[first : last + 1] == tie["ids"] and first < 5 <= last
    after = get(http, sim, "/api/web-feeds", filter=f"greater-or-equal(updated,{tie['updated']})")
    assert ids_of([after.json()]) == ids[first : first + 5]
    named = get(http, sim, "/api/web-feeds", filter="contains(name,'feed')").json()["data"]
    assert [f["attributes"]["name"] for f in named] == ["Ünïcode feed"]
    many = get(http, sim, "/api/web-feeds", filter="any(name,['Lookbook','Blog posts'])")
    assert len(many.json()["data"]) == 2
    assert get(http, sim, "/api/web-feeds", **{"page[size]": "21"}).status_code == 400
    assert get(http, sim, "/api/web-feeds", filter="equals(url,'x')").status_code == 400


def test_webhook_topics_are_ids_only(sim: KlaviyoSimulator, http: requests.Session) -> None:
    body = get(http, sim, "/api/webhook-topics").json()
    assert [t["id"] for t in body["data"]] == sorted(WEBHOOK_TOPICS)
    assert "event:klaviyo.sent_sms" in WEBHOOK_TOPICS  # the spec's example
    for topic in body["data"]:
        assert set(topic) == {"type", "id", "links"} and topic["type"] == "webhook-topic"
    one = get(http, sim, "/api/webhook-topics/event:klaviyo.sent_sms").json()["data"]
    assert one["id"] == "event:klaviyo.sent_sms" and "attributes" not in one
    hooks = get(http, sim, "/api/webhooks", include="webhook-topics").json()
    plan = sim.data.notes["configuration"]["webhook_topics"]
    for hook in hooks["data"]:
        assert [t["id"] for t in hook["relationships"]["webhook-topics"]["data"]] == plan[
            hook["id"]
        ]
    assert all("attributes" not in t for t in hooks["included"])


def test_tracking_setting_is_one_per_account(sim: KlaviyoSimulator, http: requests.Session) -> None:
    body = get(http, sim, "/api/tracking-settings").json()
    account = sim.data.ids("account")[0]
    assert [s["id"] for s in body["data"]] == [account]
    assert "next" not in body["links"]
    assert get(http, sim, "/api/tracking-settings", **{"page[size]": "2"}).status_code == 400
    one = get(http, sim, f"/api/tracking-settings/{account}").json()["data"]
    assert one["attributes"]["utm_source"]["campaign"] == {"type": "static", "value": "klaviyo"}


@pytest.mark.parametrize("kind", ["list", "segment", "metric"])
def test_flow_triggers(sim: KlaviyoSimulator, http: requests.Session, kind: str) -> None:
    triggers = sim.data.notes["configuration"]["flow_triggers"]
    expected: dict[str, list[str]] = {}
    for trigger in triggers:
        if trigger["type"] == kind:
            expected.setdefault(trigger["id"], []).append(trigger["flow"])
    assert expected
    collection = f"/api/{kind}s"
    pages = walk(http, sim.url + collection, {"include": "flow-triggers"})
    included = {f["id"] for p in pages for f in p.get("included", [])}
    for owner in (r for p in pages for r in p["data"]):
        data = owner["relationships"]["flow-triggers"]["data"]
        assert [f["id"] for f in data] == expected.get(owner["id"], [])
        assert {f["id"] for f in data} <= included
    for owner, flows in expected.items():
        related = get(http, sim, f"{collection}/{owner}/flow-triggers").json()
        assert [f["id"] for f in related["data"]] == sorted(flows)
        assert all(
            f["type"] == "flow" and "trigger_type" in f["attributes"] for f in related["data"]
        )
        ids = get(http, sim, f"{collection}/{owner}/relationships/flow-triggers").json()["data"]
        assert ids == [{"type": "flow", "id": f} for f in sorted(flows)]
        single = get(http, sim, f"{collection}/{owner}", include="flow-triggers").json()
        assert [f["id"] for f in single["included"]] == flows
    # Without include the relationship has links only.
    plain = get(http, sim, collection).json()["data"]
    assert all("data" not in r["relationships"]["flow-triggers"] for r in plain)
    # Both scopes are needed.
    owner = next(iter(expected))
    sim.add_key("pk_no_flows", sim.spec.scopes - {"flows:read"})
    response = requests.get(
        f"{sim.url}{collection}/{owner}/flow-triggers",
        headers=headers_for("pk_no_flows"),
        timeout=5,
    )
    assert response.status_code == 403


def test_the_segment_triggered_flow(sim: KlaviyoSimulator, http: requests.Session) -> None:
    flow_id = sim.data.notes["configuration"]["segment_flow"]
    flow = get(http, sim, f"/api/flows/{flow_id}").json()["data"]
    assert flow["attributes"]["trigger_type"] is None
    assert flow["attributes"]["status"] == "draft"


def test_recipient_estimations_one_per_sent_campaign(
    sim: KlaviyoSimulator, http: requests.Session
) -> None:
    campaigns = sim.data.get("campaign")
    sent = [c for c in campaigns if c["attributes"]["status"] == "Sent"]
    assert sorted(sim.data.ids("campaign-recipient-estimation")) == sorted(c["id"] for c in sent)
    for campaign in campaigns:
        response = get(http, sim, f"/api/campaign-recipient-estimations/{campaign['id']}")
        if campaign["attributes"]["status"] != "Sent":
            assert response.status_code == 404
            assert error_of(response)["code"] == "not_found"
            continue
        body = response.json()["data"]
        assert body["type"] == "campaign-recipient-estimation" and body["id"] == campaign["id"]
        count = body["attributes"]["estimated_recipient_count"]
        members = set()
        for group in campaign["attributes"]["audiences"]["included"]:
            members |= set(sim.data.members("list", group))
        assert isinstance(count, int) and 0 <= count <= len(members)
    counts = [
        sim.data.get_one("campaign-recipient-estimation", c["id"])["attributes"][
            "estimated_recipient_count"
        ]
        for c in sent
    ]
    assert max(counts) > 0
    assert get(http, sim, "/api/campaign-recipient-estimations/NOPE").status_code == 404


def test_reality_variant_estimates_its_archived_campaigns_too() -> None:
    data = SimData.default(0, reality=True)
    sent = [c["id"] for c in data.get("campaign") if c["attributes"]["status"] == "Sent"]
    assert sorted(data.ids("campaign-recipient-estimation")) == sorted(sent)


@pytest.mark.parametrize(
    ("path", "burst"),
    [("/api/web-feeds", 1), ("/api/webhook-topics", 1), ("/api/custom-metrics", 3)],
)
def test_configuration_rate_limits(path: str, burst: int, clock: VirtualClock) -> None:
    with KlaviyoSimulator(rate_limits=True, clock=clock) as limited, requests.Session() as http:
        http.headers.update(headers_for(limited.api_key))
        statuses = [http.get(limited.url + path, timeout=5).status_code for _ in range(burst + 1)]
        assert statuses == [200] * burst + [429]


@pytest.mark.parametrize(
    ("path", "scope"),
    [
        ("/api/custom-metrics", "metrics:read"),
        ("/api/mapped-metrics", "metrics:read"),
        ("/api/web-feeds", "web-feeds:read"),
        ("/api/webhook-topics", "webhooks:read"),
        ("/api/tracking-settings", "tracking-settings:read"),
    ],
)
def test_configuration_scopes(sim: KlaviyoSimulator, path: str, scope: str) -> None:
    sim.add_key(f"pk_without_{scope}", sim.spec.scopes - {scope})
    response = requests.get(sim.url + path, headers=headers_for(f"pk_without_{scope}"), timeout=5)
    assert response.status_code == 403
    sim.add_key(f"pk_only_{scope}", {scope})
    assert requests.get(sim.url + path, headers=headers_for(f"pk_only_{scope}"), timeout=5).ok
