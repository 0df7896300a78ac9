"""Message events and attributed conversions (``build_attribution``, run by ``build_default``
after the family builders and ``build_consent``).

Twelve "stories" after ``CUTOFF``: a profile receives an email of a sent campaign or of a
live flow ("Received Email", a metric this adds), opens it, may click it, and may place an
order that Klaviyo attributes to the click or the open. Message events carry ``$message``
(the campaign id, with ``Campaign Name``) or ``$flow`` and ``$message`` (the flow message id);
attributed orders carry ``$attributed_*`` keys, ``$attribution`` and an ``attribution``
resource (``include=attributions``). Which message an order is attributed to agrees with
the reports (``reports.facts``: the latest campaign send in the 5 days before, else a live
flow message picked by the event's id).

A random stream of its own, and every new event after the default seed's tie timestamps,
so the default records and their positions stay as they were (README "Event attribution").
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from ..data import SimData, iso
from ..reports.dates import account_zone
from ..reports.facts import FactBuilder, flow_owner
from .base import hex_id, instant, random_uuid, short_id

# Every event added is after this: after both tie timestamps of the default events (so their
# positions do not move) and after the first half of 2025, which peers' tests aggregate.
CUTOFF = instant("2025-07-02T00:00:00+00:00")
STORIES = 12
# Conversion attributed to the click, to the open, or no conversion (received and opened).
KINDS = ("click", "click", "open", "none")
EVENTS_PER_KIND = {"click": 4, "open": 3, "none": 2}
WINDOW = timedelta(days=5)  # reports.facts.ATTRIBUTION_DAYS
RECEIVED_EMAIL = "Received Email"


def _between(rng: random.Random, lo: datetime, hi: datetime) -> datetime:
    span = max(1, int((hi - lo).total_seconds()))
    return lo + timedelta(seconds=rng.randrange(span))


class _Stories:
    def __init__(self, data: SimData, seed: int) -> None:
        self.data = data
        self.rng = random.Random(f"klaviyo-sim-attribution-{seed}")
        self.now = data.now()
        self.latest = self.now - timedelta(days=6)
        self.zone = account_zone(data)
        probe = FactBuilder()
        probe.data = data
        self.sent = probe._sent_campaign_messages(self.now)
        self.live = probe._live_flow_messages(self.zone)
        self.metrics = {m["attributes"]["name"]: m["id"] for m in data.stored("metric").values()}
        self.notes: dict[str, Any] = {"stories": [], "attributed_orders": []}
        self.last_event: dict[str, str] = {}

    # -- who, when --------------------------------------------------------------------------

    def recipients(self, before: datetime, lists: list[str]) -> list[str]:
        """Profiles with an email and no global suppression, created before ``before``; of
        those, the members of ``lists`` (joined before, not suppressed from the list) when
        there are some."""
        eligible: dict[str, set[str]] = {}
        for profile in self.data.stored("profile").values():
            attrs = profile["attributes"]
            marketing = ((attrs.get("subscriptions") or {}).get("email") or {}).get("marketing")
            if not attrs.get("email") or not marketing or marketing.get("suppression"):
                continue
            if instant(attrs["created"]) < before:
                eligible[profile["id"]] = {
                    e["list_id"] for e in marketing.get("list_suppressions") or []
                }
        members = {
            pid
            for lid in lists
            for pid, joined in self.data.membership("list", lid).items()
            if pid in eligible and lid not in eligible[pid] and instant(joined) < before
        }
        return sorted(members) or sorted(eligible)

    def campaign_window(self, item: dict[str, Any]) -> datetime:
        """The end of the time in which an order is attributed to this send."""
        later = [s["send"] for s in self.sent if s["send"] > item["send"]]
        return min([item["send"] + WINDOW, self.now, *later])

    # -- events -----------------------------------------------------------------------------

    def event(
        self, metric: str, profile_id: str, when: datetime, properties: dict[str, Any]
    ) -> str:
        rid = short_id(self.rng, 12)
        while self.data.stored_one("event", rid) is not None:
            rid = short_id(self.rng, 12)
        return self._add(rid, metric, profile_id, when, properties)

    def _add(
        self, rid: str, metric: str, profile_id: str, when: datetime, properties: dict[str, Any]
    ) -> str:
        stamp = iso(when)
        known = self.last_event.get(profile_id)
        if known is None or when > instant(known):
            self.last_event[profile_id] = stamp
        self.data.add(
            "event",
            {
                "type": "event",
                "id": rid,
                "attributes": {
                    "timestamp": int(when.timestamp()),
                    "event_properties": properties,
                    "datetime": stamp,
                    "uuid": random_uuid(self.rng),
                },
                "relationships": {
                    "profile": {"data": {"type": "profile", "id": profile_id}},
                    "metric": {"data": {"type": "metric", "id": self.metrics[metric]}},
                },
            },
        )
        return rid

    def order_properties(self, n: int, attributed: dict[str, Any]) -> dict[str, Any]:
        value = round(20 + (n * 13.7) % 180, 2)
        return {
            "$value": value,
            "OrderId": f"#{5000 + n}",
            "ItemNames": ["Café Crème ☕"],
            "Items": [{"ProductID": 100 + n % 10, "SKU": f"SKU-{n % 10}", "Quantity": 1}],
            "Discount Codes": ["WELCOME10"] if n % 3 == 0 else [],
            "Coupon": None,
            "$extra": {"shipping": {"method": "UPS", "cost": 0}},
            **attributed,
        }

    # -- stories ----------------------------------------------------------------------------

    def story(self, n: int, kind: str) -> None:
        campaigns = [
            s
            for s in self.sent
            if s["channel"] == "email"
            and CUTOFF <= s["send"] <= self.latest
            and self.campaign_window(s) - s["send"] >= timedelta(hours=12)
        ]
        flows = [m for m in self.live if m["channel"] == "email"]
        if campaigns and (n % 2 == 0 or not flows):
            self.campaign_story(n, kind, campaigns[(n // 2) % len(campaigns)])
        else:
            self.flow_story(n, kind, flows[(n // 2) % len(flows)])

    def campaign_story(self, n: int, kind: str, item: dict[str, Any]) -> None:
        rng = self.rng
        campaign, message = item["campaign"], item["message"]
        send, end = item["send"], self.campaign_window(item)
        lists = list((campaign["attributes"].get("audiences") or {}).get("included") or [])
        profile_id = rng.choice(self.recipients(send, lists))
        content = (message["attributes"].get("definition") or {}).get("content") or {}
        common = {
            "Subject": content.get("subject"),
            "Campaign Name": campaign["attributes"]["name"],
            "$message": campaign["id"],
            "$_cohort$message_send_cohort": f"{int(send.timestamp())}:{campaign['id']}",
            "$ESP": 1,
            "Email Domain": "example.com",
        }
        received = {
            **common,
            "$event_id": f"{campaign['id']}:{rng.randrange(10**9, 10**10)}",
            "$group_ids": lists,
            "Inbox Provider": "Gmail",
            # As in Klaviyo's own example of a delivered email (research note §7).
            "$attribution": {"$send_ts": 0, "$attributed_event_id": ""},
        }
        chain = self.chain(n, kind, profile_id, send, end, received, common)
        self.note(chain, kind, campaign=campaign["id"], message=message["id"])
        if "order" in chain:
            self.attribute(
                chain,
                send,
                {
                    "$attributed_message": campaign["id"],
                    "$attributed_channel": "email",
                },
                {"$message": campaign["id"], "$campaign": campaign["id"]},
                {"campaign": campaign["id"], "campaign-message": message["id"]},
            )

    def flow_story(self, n: int, kind: str, item: dict[str, Any]) -> None:
        rng = self.rng
        flow, message = item["flow"], item["message"]
        first = max(CUTOFF, datetime.combine(item["since"], datetime.min.time(), self.zone))
        first += timedelta(days=1)
        for _ in range(500):
            send = _between(rng, first, self.latest).replace(microsecond=0)
            end = send + WINDOW
            # No campaign claims an order in this story's time (reports.facts).
            if not any(send - WINDOW < s["send"] <= end for s in self.sent):
                break
        else:  # pragma: no cover - the seed always has room
            raise RuntimeError("no time without a campaign for a flow story")
        profile_id = rng.choice(self.recipients(send, []))
        definition = message["attributes"].get("definition") or {}
        common = {
            "Subject": definition.get("subject_line"),
            "$flow": flow["id"],
            "$message": message["id"],
            "$_cohort$message_send_cohort": f"{int(send.timestamp())}:{message['id']}",
            "$ESP": 1,
            "Email Domain": "example.com",
        }
        received = {
            **common,
            "$event_id": f"{message['id']}:{rng.randrange(10**9, 10**10)}",
            "Inbox Provider": "Gmail",
            "$attribution": {"$send_ts": 0, "$attributed_event_id": ""},
        }
        chain = self.chain(n, kind, profile_id, send, end, received, common, flow_item=item)
        self.note(chain, kind, flow=flow["id"], message=message["id"])
        if "order" in chain:
            self.attribute(
                chain,
                send,
                {
                    "$attributed_flow": flow["id"],
                    "$attributed_message": message["id"],
                    "$attributed_channel": "email",
                },
                {"$message": message["id"], "$flow": flow["id"]},
                {"flow": flow["id"], "flow-message": message["id"]},
            )

    def note(self, chain: dict[str, Any], kind: str, **source: str) -> None:
        steps = ("received", "opened", "clicked", "order")
        events = {step: chain[step] for step in steps if step in chain}
        self.notes["stories"].append(
            {"kind": kind, **source, "profile": chain["profile"], **events}
        )

    def chain(
        self,
        n: int,
        kind: str,
        profile_id: str,
        send: datetime,
        end: datetime,
        received: dict[str, Any],
        common: dict[str, Any],
        flow_item: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Received, opened, perhaps clicked, perhaps ordered: the events' ids by step."""
        rng = self.rng
        room = (end - send) / 8
        at = send + timedelta(seconds=rng.randrange(1, 600))
        out: dict[str, Any] = {"profile": profile_id, "n": n}
        out["received"] = self.event(RECEIVED_EMAIL, profile_id, at, received)
        at = _between(rng, at + timedelta(minutes=5), at + min(room, timedelta(hours=20)))
        opened = {**common, "Client Name": "Gmail", "Client Type": "Webmail"}
        out["opened"] = self.event(
            "Opened Email", profile_id, at, {**opened, "machine_open": False}
        )
        if kind == "click":
            at = _between(rng, at + timedelta(minutes=1), at + min(room, timedelta(hours=2)))
            url = f"https://sim-store.example/collections/new?utm_campaign={common['$message']}"
            out["clicked"] = self.event("Clicked Email", profile_id, at, {**common, "URL": url})
        if kind == "none":
            return out
        at = _between(rng, at + timedelta(minutes=20), end - timedelta(minutes=30))
        out["order_at"] = at
        out["by"] = out["clicked"] if kind == "click" else out["opened"]
        if flow_item is not None:
            # The reports give an order no campaign claims to the flow message its id picks.
            rid = short_id(rng, 12)
            while (
                self.data.stored_one("event", rid) is not None
                or flow_owner(rid, at.astimezone(self.zone).date(), self.live) is not flow_item
            ):
                rid = short_id(rng, 12)
            out["order"] = rid
        else:
            out["order"] = short_id(rng, 12)
        return out

    def attribute(
        self,
        chain: dict[str, Any],
        send: datetime,
        keys: dict[str, Any],
        attribution: dict[str, Any],
        targets: dict[str, str],
    ) -> None:
        properties = self.order_properties(
            chain["n"],
            {
                **keys,
                "$attribution": {
                    "$attributed_event_id": chain["by"],
                    "$send_ts": int(send.timestamp()),
                    **attribution,
                },
            },
        )
        order = self._add(
            chain["order"], "Placed Order", chain["profile"], chain["order_at"], properties
        )
        relationships: dict[str, Any] = {
            "event": {"data": {"type": "event", "id": order}},
            "attributed-event": {"data": {"type": "event", "id": chain["by"]}},
        }
        for name, target in targets.items():
            relationships[name] = {"data": {"type": name, "id": target}}
        self.data.add(
            "attribution",
            {
                "type": "attribution",
                "id": hex_id(self.rng),
                "attributes": {},
                "relationships": relationships,
            },
        )
        self.notes["attributed_orders"].append(order)


def build_attribution(data: SimData, seed: int = 0) -> SimData:
    with data.lock:
        stories = _Stories(data, seed)
        klaviyo = next(
            (
                m["attributes"]["integration"]
                for m in data.stored("metric").values()
                if m["attributes"]["name"] == "Opened Email"
            ),
            None,
        )
        made = instant("2023-01-02T00:00:00+00:00") + timedelta(days=31 * 8, seconds=8)
        metric_id = short_id(stories.rng)
        data.add(
            "metric",
            {
                "type": "metric",
                "id": metric_id,
                "attributes": {
                    "name": RECEIVED_EMAIL,
                    "created": iso(made),
                    "updated": iso(made + timedelta(days=400)),
                    "integration": dict(klaviyo) if klaviyo else None,
                },
            },
        )
        stories.metrics[RECEIVED_EMAIL] = metric_id
        for n in range(STORIES):
            stories.story(n, KINDS[n % len(KINDS)])
        for profile_id, stamp in stories.last_event.items():
            attrs = data.stored_one("profile", profile_id)["attributes"]  # type: ignore[index]
            known = attrs.get("last_event_date")
            if known is None or instant(stamp) > instant(known):
                attrs["last_event_date"] = stamp
        data.touched("profile")
        data.notes["attribution"] = {**stories.notes, "received_email_metric": metric_id}
    return data
