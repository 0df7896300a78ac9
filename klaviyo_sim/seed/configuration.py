"""The account's configuration (``build_configuration``, run by ``build_default``): custom and
mapped metrics, web feeds, webhook topics, the tracking setting, flow triggers and campaign
recipient estimations.

A random stream of its own. It adds records, and relationships to existing ones: flow
triggers of lists, segments and metrics, the webhooks' topics (README "Account
configuration").
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from ..data import SimData, iso
from .base import hex_id, instant, short_id, spread

# The spec's only example of a topic id is "event:klaviyo.sent_sms"; the others follow its
# pattern with the names of the topics Klaviyo's Webhooks API overview lists (inference).
WEBHOOK_TOPICS = (
    "event:klaviyo.bounced_push",
    "event:klaviyo.clicked_email",
    "event:klaviyo.marked_email_as_spam",
    "event:klaviyo.ready_to_review",
    "event:klaviyo.received_email",
    "event:klaviyo.received_push",
    "event:klaviyo.received_sms",
    "event:klaviyo.sent_sms",
    "event:klaviyo.submitted_review",
    "event:klaviyo.subscribed_to_sms_marketing",
    "event:klaviyo.unsubscribed_from_email_marketing",
)
WEB_FEEDS = (
    ("Blog posts", "https://sim-store.example/blog/feed.json", "get", "json", "ok"),
    ("Bestsellers ☕", "https://sim-store.example/api/bestsellers", "post", "json", "ok"),
    ("New arrivals", "https://sim-store.example/new.xml", "get", "xml", "refreshing"),
    ("Recipes (XML)", "https://recipes.example.com/rss", "get", "xml", None),
    ("Store events", "https://sim-store.example/events.json", "get", "json", "disabled"),
    (
        "Lookbook",
        "https://sim-store.example/lookbook",
        "get",
        "json",
        "warning_periodic_refresh_timeout",
    ),
    ("Ünïcode feed", "https://sim-store.example/ü.json", "get", "json", "ok"),
)
# sort=updated positions 4 and 5 share a second: straddles the default page of 5.
WEB_FEED_UPDATED_TIE = (4, 5)


def _metric(data: SimData, name: str) -> str | None:
    return next(
        (m["id"] for m in data.stored("metric").values() if m["attributes"]["name"] == name), None
    )


def build_configuration(data: SimData, seed: int = 0) -> SimData:
    rng = random.Random(f"klaviyo-sim-configuration-{seed}")
    with data.lock:
        notes: dict[str, Any] = {}
        _metrics(data, rng, notes)
        _web_feeds(data, rng, notes)
        _webhook_topics(data, notes)
        _tracking_setting(data)
        _flow_triggers(data, rng, notes)
        add_recipient_estimations(data, data.ids("campaign"))
        data.notes["configuration"] = notes
    return data


def _metrics(data: SimData, rng: random.Random, notes: dict[str, Any]) -> None:
    placed = _metric(data, "Placed Order")
    viewed = _metric(data, "Viewed Product")
    active = _metric(data, "Active on Site")
    made = spread(rng, "2025-05-01T00:00:00+00:00", "2026-05-01T00:00:00+00:00", 2)
    definitions = [
        (
            "Revenue (all channels) 💰",
            {
                "aggregation_method": "value",
                "metric_groups": [
                    {
                        "metric_id": placed,
                        "metric_filters": [
                            {
                                "property": "$value",
                                "filter": {
                                    "type": "numeric",
                                    "operator": "greater-than",
                                    "value": 0,
                                },
                            }
                        ],
                        "value_property": "$value",
                    }
                ],
            },
            [placed],
        ),
        (
            "Engaged sessions",
            {
                "aggregation_method": "count",
                "metric_groups": [
                    {"metric_id": active, "metric_filters": None, "value_property": None},
                    {
                        "metric_id": viewed,
                        "metric_filters": [
                            {
                                "property": "ProductName",
                                "filter": {
                                    "type": "string",
                                    "operator": "contains",
                                    "value": "Café",
                                },
                            }
                        ],
                        "value_property": None,
                    },
                ],
            },
            [active, viewed],
        ),
    ]
    custom = []
    for (name, definition, metrics), when in zip(definitions, made, strict=True):
        rid = hex_id(rng)
        custom.append(rid)
        data.add(
            "custom-metric",
            {
                "type": "custom-metric",
                "id": rid,
                "attributes": {
                    "name": name,
                    "created": iso(when),
                    "updated": iso(when + timedelta(days=3)),
                    "definition": definition,
                },
                "relationships": {
                    "metrics": {"data": [{"type": "metric", "id": m} for m in metrics if m]}
                },
            },
        )
    # Mapped metrics: their ids are the spec's enum of mapping types; unmapped types absent.
    mappings = [
        ("ordered_product", {"metric": placed}),
        ("revenue", {"custom-metric": custom[0]}),
        ("viewed_product", {"metric": viewed}),
    ]
    updated = spread(rng, "2026-05-02T00:00:00+00:00", "2026-06-01T00:00:00+00:00", 3)
    for (rid, targets), when in zip(mappings, updated, strict=True):
        data.add(
            "mapped-metric",
            {
                "type": "mapped-metric",
                "id": rid,
                "attributes": {"updated": iso(when)},
                "relationships": {
                    name: {"data": {"type": name, "id": target}}
                    for name, target in targets.items()
                    if target
                },
            },
        )
    notes["custom_metrics"] = custom


def _web_feeds(data: SimData, rng: random.Random, notes: dict[str, Any]) -> None:
    created = spread(rng, "2024-03-01T00:00:00+00:00", "2025-03-01T00:00:00+00:00", len(WEB_FEEDS))
    updated = spread(rng, "2025-04-01T00:00:00+00:00", "2026-10-01T00:00:00+00:00", len(WEB_FEEDS))
    first, second = WEB_FEED_UPDATED_TIE
    updated[second] = updated[first]
    order = list(range(len(WEB_FEEDS)))
    rng.shuffle(order)  # ids and names in another order than updated
    ids = []
    for n, (name, url, method, content, status) in enumerate(WEB_FEEDS):
        rid = hex_id(rng, 12)
        ids.append(rid)
        data.add(
            "web-feed",
            {
                "type": "web-feed",
                "id": rid,
                "attributes": {
                    "name": name,
                    "url": url,
                    "request_method": method,
                    "content_type": content,
                    "created": iso(created[n]),
                    "updated": iso(updated[order[n]]),
                    "status": status,
                },
            },
        )
    tie = iso(updated[first])
    notes["web_feed_updated_tie"] = {
        "updated": tie,
        "ids": sorted(
            i
            for i in ids
            if data.stored_one("web-feed", i)["attributes"]["updated"] == tie  # type: ignore[index]
        ),
        "positions": WEB_FEED_UPDATED_TIE,
    }


def _webhook_topics(data: SimData, notes: dict[str, Any]) -> None:
    for topic in WEBHOOK_TOPICS:
        data.add("webhook-topic", {"type": "webhook-topic", "id": topic, "attributes": {}})
    hooks = data.ids("webhook")
    plan = [
        ("event:klaviyo.received_email", "event:klaviyo.clicked_email"),
        ("event:klaviyo.sent_sms", "event:klaviyo.received_sms"),
    ]
    for hook, topics in zip(hooks, plan, strict=False):
        for topic in topics:
            data.link("webhook", hook, "webhook-topics", topic)
    notes["webhook_topics"] = {
        hook: list(topics) for hook, topics in zip(hooks, plan, strict=False)
    }


def _tracking_setting(data: SimData) -> None:
    account = next(iter(data.ids("account")), None)
    if account is None:
        return

    def both(value: dict[str, Any], flow: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"campaign": value, "flow": flow if flow is not None else value}

    data.add(
        "tracking-setting",
        {
            "type": "tracking-setting",
            # The spec: "The id of the tracking setting (account ID)."
            "id": account,
            "attributes": {
                "auto_add_parameters": True,
                "utm_source": both({"type": "static", "value": "klaviyo"}),
                "utm_medium": both({"type": "dynamic", "value": "message_type"}),
                "utm_campaign": both(
                    {"type": "dynamic", "value": "campaign_name_send_day"},
                    {"type": "dynamic", "value": "flow_name"},
                ),
                "utm_id": None,
                "utm_term": None,
                "custom_parameters": [
                    {
                        "name": "ref",
                        "campaign": {"type": "static", "value": "newsletter"},
                        "flow": None,
                    }
                ],
            },
        },
    )


def _flow_triggers(data: SimData, rng: random.Random, notes: dict[str, Any]) -> None:
    flows = (data.notes.get("flows") or {}).get("flow_ids") or []
    lists, segments = data.ids("list"), data.ids("segment")
    triggers: list[tuple[str, str, str]] = []
    if flows and lists:
        triggers.append(("list", lists[0], flows[0]))  # Welcome Series <- Newsletter
    viewed, placed = _metric(data, "Viewed Product"), _metric(data, "Placed Order")
    if len(flows) > 2 and viewed and placed:
        triggers.append(("metric", viewed, flows[1]))  # Abandoned Cart
        triggers.append(("metric", placed, flows[2]))  # Old Winback (archived)
    if len(segments) > 5:
        # A flow that a segment triggers. The spec's trigger_type enum has no value for
        # segments; null (it is nullable) is an inference.
        made = instant("2026-06-10T10:00:00+00:00") + timedelta(seconds=rng.randrange(86400))
        flow_id = short_id(rng)
        data.add(
            "flow",
            {
                "type": "flow",
                "id": flow_id,
                "attributes": {
                    "name": "VIP welcome 💎",
                    "status": "draft",
                    "archived": False,
                    "created": iso(made),
                    "updated": iso(made + timedelta(days=2)),
                    "trigger_type": None,
                },
            },
        )
        triggers.append(("segment", segments[5], flow_id))  # Big spenders
        notes["segment_flow"] = flow_id
        if "flows" in data.notes:
            data.notes["flows"]["flow_ids"] = [*flows, flow_id]
    for kind, owner, flow in triggers:
        data.link(kind, owner, "flow-triggers", flow)
    notes["flow_triggers"] = [{"type": k, "id": o, "flow": f} for k, o, f in triggers]


def add_recipient_estimations(data: SimData, campaign_ids: list[str]) -> None:
    """One ``campaign-recipient-estimation`` (id: the campaign's) per sent campaign: the
    members of its included lists and segments, less its excluded ones, who can receive its
    channel (email: an address, no global suppression, not suppressed from the list)."""
    profiles = data.stored("profile")
    for campaign_id in campaign_ids:
        campaign = data.stored_one("campaign", campaign_id)
        if campaign is None or campaign["attributes"].get("status") != "Sent":
            continue
        audiences = campaign["attributes"].get("audiences") or {}
        channel = data.private("campaign", campaign_id).get("channel") or "email"
        included: dict[str, set[str]] = {}
        for group in audiences.get("included") or []:
            kind = "list" if data.stored_one("list", group) else "segment"
            for pid in data.membership(kind, group):
                included.setdefault(pid, set()).add(group)
        excluded = {
            pid
            for group in audiences.get("excluded") or []
            for kind in ("list", "segment")
            for pid in data.membership(kind, group)
        }
        count = 0
        for pid, groups in included.items():
            profile = profiles.get(pid)
            if profile is None or pid in excluded:
                continue
            if _reachable(profile["attributes"], channel, groups):
                count += 1
        data.add(
            "campaign-recipient-estimation",
            {
                "type": "campaign-recipient-estimation",
                "id": campaign_id,
                "attributes": {"estimated_recipient_count": count},
            },
        )


def _reachable(attrs: dict[str, Any], channel: str, groups: set[str]) -> bool:
    subscriptions = attrs.get("subscriptions") or {}
    if channel == "sms":
        marketing = (subscriptions.get("sms") or {}).get("marketing") or {}
        return bool(marketing.get("can_receive_sms_marketing"))
    if channel == "mobile_push":
        marketing = (subscriptions.get("mobile_push") or {}).get("marketing") or {}
        return bool(marketing.get("can_receive_push_marketing"))
    marketing = (subscriptions.get("email") or {}).get("marketing") or {}
    suppressed = {e.get("list_id") for e in marketing.get("list_suppressions") or []}
    return bool(marketing.get("can_receive_email_marketing")) and not groups <= suppressed
