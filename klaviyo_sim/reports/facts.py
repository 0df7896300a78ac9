"""What reports count, per family, computed from the store (see the package docstring):
one ``Fact`` per reportable thing (a campaign or flow message, a form version, a segment)
and day."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ..data import SimData
from .body import Query
from .dates import account_zone, each_day, local_day, parse_instant

# Conversions within this many days after a campaign's send are attributed to it.
ATTRIBUTION_DAYS = 5
# A campaign's opens and clicks keep arriving for this many days after the send.
CAMPAIGN_SETTLE_DAYS = 7
SEND_CHANNELS = {"email": "email", "sms": "sms", "mobile_push": "push-notification"}


@dataclass
class Fact:
    """Counts of one reportable thing (a message, a form version, a segment) on one day."""

    groupings: dict[str, Any]
    # Tags the thing carries (id, name): for tag_id/tag_name group-bys and filters.
    tags: list[tuple[str, str]]
    day: date
    counts: dict[str, float]


def _h(*parts: Any) -> int:
    # Not hash(): string hashes are salted per process, the reports must not be.
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big")


MESSAGE_COUNTS = (
    "recipients",
    "delivered",
    "bounced",
    "failed",
    "opens",
    "opens_unique",
    "clicks",
    "clicks_unique",
    "unsubscribes",
    "unsubscribe_uniques",
    "spam_complaints",
    "conversions",
    "conversion_uniques",
    "conversion_value",
    "message_segment_count_sum",
    "text_message_credit_usage_amount",
    "text_message_spend",
)


def _message_counts(seed: Any, channel: str, recipients: int) -> dict[str, float]:
    """One message's counts over its lifetime (campaigns) or one day (flows)."""
    h = _h("counts", seed)
    counts = dict.fromkeys(MESSAGE_COUNTS, 0.0)
    if recipients <= 0:
        return counts
    if channel == "email":
        bounced = h % max(1, recipients // 25 + 1)
        failed = 0
    else:
        bounced = 0
        failed = h % max(1, recipients // 30 + 1)
    delivered = recipients - bounced - failed
    opens_unique = 0 if channel == "sms" else delivered * (20 + (h >> 8) % 40) // 100
    opens = opens_unique + ((h >> 16) % (opens_unique // 2 + 1) if opens_unique else 0)
    reach = opens_unique if channel != "sms" else delivered
    clicks_unique = reach * (5 + (h >> 24) % 20) // 100
    clicks = clicks_unique + ((h >> 32) % (clicks_unique // 3 + 1) if clicks_unique else 0)
    unsubscribe_uniques = delivered * ((h >> 40) % 3) // 100
    counts.update(
        recipients=recipients,
        delivered=delivered,
        bounced=bounced,
        failed=failed,
        opens=opens,
        opens_unique=opens_unique,
        clicks=clicks,
        clicks_unique=clicks_unique,
        unsubscribe_uniques=unsubscribe_uniques,
        unsubscribes=unsubscribe_uniques + ((h >> 44) % 2 if unsubscribe_uniques else 0),
        spam_complaints=(h >> 48) % 3 if channel == "email" else 0,
    )
    if channel == "sms":
        segments = recipients * (1 + (h >> 52) % 2)
        counts.update(
            message_segment_count_sum=segments,
            text_message_credit_usage_amount=segments,
            text_message_spend=round(segments * 0.0079, 4),
        )
    return {k: float(v) for k, v in counts.items()}


def campaign_owner(when: datetime, sent: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The sent campaign message a conversion at ``when`` is attributed to: the latest send
    in the ``ATTRIBUTION_DAYS`` before it (``sent`` ascending by send), or None."""
    owner = None
    window = timedelta(days=ATTRIBUTION_DAYS)
    for item in sent:
        if item["send"] <= when < item["send"] + window:
            owner = item  # the latest send before the event wins
    return owner


def flow_owner(event_id: str, day: date, live: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The live flow message a conversion no campaign claims is attributed to: one of those
    sending on ``day`` (``live`` by message id), or none, picked by the event's id."""
    candidates = [m for m in live if m["since"] <= day]
    pick = _h("flow-conversion", event_id) % (len(candidates) + 1)
    return candidates[pick] if pick < len(candidates) else None


# Counts that keep arriving after a campaign's send; the rest are known at the send.
_SETTLING = ("opens", "opens_unique", "clicks", "clicks_unique", "unsubscribes")
_SETTLING += ("unsubscribe_uniques", "spam_complaints")


class FactBuilder:
    """``ReportEngine``'s facts: one builder per report family."""

    data: SimData

    def facts(self, query: Query) -> list[Fact]:
        zone = account_zone(self.data)
        now = self.data.now()
        builders = {
            "campaign": self._campaign_facts,
            "flow": self._flow_facts,
            "form": self._form_facts,
            "segment": self._segment_facts,
        }
        return builders[query.family](query, zone, now)

    def _tags(self, kind: str, resource_id: str) -> list[tuple[str, str]]:
        tags = []
        for _, tag_id in self.data.targets(kind, resource_id, "tags"):
            tag = self.data.stored_one("tag", tag_id)
            if tag is not None:
                tags.append((tag_id, str(tag["attributes"].get("name"))))
        return tags

    def _conversion_events(self, metric_id: str | None, now: datetime) -> list[dict[str, Any]]:
        if metric_id is None:
            return []
        events = []
        for event in self.data.stored("event").values():
            if ("metric", metric_id) not in self.data.links_of("event", event["id"]).get(
                "metric", {}
            ):
                continue
            moment = parse_instant(event["attributes"].get("datetime"))
            if moment is None or moment > now:
                continue
            profile = next(iter(self.data.links_of("event", event["id"]).get("profile", {})), None)
            value = (event["attributes"].get("event_properties") or {}).get("$value")
            events.append(
                {
                    "id": event["id"],
                    "when": moment,
                    "profile": profile[1] if profile else None,
                    "value": float(value)
                    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)
                    else 0.0,
                }
            )
        events.sort(key=lambda e: (e["when"], e["id"]))
        return events

    def _sent_campaign_messages(self, now: datetime) -> list[dict[str, Any]]:
        sent = []
        for message in self.data.stored("campaign-message").values():
            owners = self.data.targets("campaign-message", message["id"], "campaign")
            if not owners:
                continue
            campaign = self.data.stored_one("campaign", owners[0][1])
            if campaign is None or campaign["attributes"].get("status") != "Sent":
                continue
            send = parse_instant(campaign["attributes"].get("send_time"))
            if send is None or send > now:
                continue
            definition = message["attributes"].get("definition") or {}
            channel = self.data.private("campaign", campaign["id"]).get("channel") or (
                definition.get("channel")
            )
            sent.append(
                {
                    "campaign": campaign,
                    "message": message,
                    "send": send,
                    "channel": channel,
                    "name": definition.get("label") or definition.get("name"),
                }
            )
        sent.sort(key=lambda s: (s["send"], s["message"]["id"]))
        return sent

    def _attribute(
        self, events: list[dict[str, Any]], sent: list[dict[str, Any]]
    ) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
        """Conversion events by the campaign message that claims them, and the rest."""
        claimed: dict[str, list[dict[str, Any]]] = {}
        rest = []
        for event in events:
            owner = campaign_owner(event["when"], sent)
            if owner is None:
                rest.append(event)
            else:
                claimed.setdefault(owner["message"]["id"], []).append(event)
        return claimed, rest

    @staticmethod
    def _add_conversions(counts: dict[str, float], events: list[dict[str, Any]]) -> None:
        counts["conversions"] += len(events)
        counts["conversion_uniques"] += len({e["profile"] or e["id"] for e in events})
        counts["conversion_value"] = round(
            counts["conversion_value"] + sum(e["value"] for e in events), 2
        )

    def _campaign_facts(self, query: Query, zone: ZoneInfo, now: datetime) -> list[Fact]:
        sent = self._sent_campaign_messages(now)
        claimed, _ = self._attribute(self._conversion_events(query.conversion_metric_id, now), sent)
        facts = []
        for item in sent:
            day = item["send"].astimezone(zone).date()
            if not query.first_day <= day <= query.last_day:
                continue
            message_id = item["message"]["id"]
            recipients = 50 + _h("recipients", message_id) % 450
            counts = _message_counts(message_id, item["channel"], recipients)
            settled = min(1.0, (now - item["send"]) / timedelta(days=CAMPAIGN_SETTLE_DAYS))
            for name in _SETTLING:
                counts[name] = float(int(counts[name] * settled))
            self._add_conversions(counts, claimed.get(message_id, []))
            campaign = item["campaign"]
            facts.append(
                Fact(
                    groupings={
                        "campaign_id": campaign["id"],
                        "campaign_message_id": message_id,
                        "campaign_message_name": item["name"],
                        "send_channel": SEND_CHANNELS.get(item["channel"], item["channel"]),
                        "group": None,
                        "group_name": None,
                        "text_message_format": "SMS" if item["channel"] == "sms" else None,
                        "variation": None,
                        "variation_name": None,
                    },
                    tags=self._tags("campaign", campaign["id"]),
                    day=day,
                    counts=counts,
                )
            )
        return facts

    def _live_flow_messages(self, zone: ZoneInfo) -> list[dict[str, Any]]:
        live = []
        for message in self.data.stored("flow-message").values():
            actions = self.data.targets("flow-message", message["id"], "flow-action")
            if not actions:
                continue
            flows = self.data.targets("flow-action", actions[0][1], "flow")
            flow = self.data.stored_one("flow", flows[0][1]) if flows else None
            if flow is None or flow["attributes"].get("status") != "live":
                continue
            since = local_day(flow["attributes"].get("created"), zone)
            if since is None:
                continue
            definition = message["attributes"].get("definition") or {}
            live.append(
                {
                    "flow": flow,
                    "message": message,
                    "since": since,
                    "channel": message["attributes"].get("channel") or "email",
                    "name": definition.get("name"),
                }
            )
        live.sort(key=lambda m: m["message"]["id"])
        return live

    def _flow_facts(self, query: Query, zone: ZoneInfo, now: datetime) -> list[Fact]:
        today = now.astimezone(zone).date()
        live = self._live_flow_messages(zone)
        sent = self._sent_campaign_messages(now)
        _, rest = self._attribute(self._conversion_events(query.conversion_metric_id, now), sent)
        by_day: dict[tuple[str, date], list[dict[str, Any]]] = {}
        for event in rest:
            day = event["when"].astimezone(zone).date()
            owner = flow_owner(event["id"], day, live)
            if owner is not None:
                by_day.setdefault((owner["message"]["id"], day), []).append(event)
        facts = []
        for item in live:
            message_id = item["message"]["id"]
            first = max(query.first_day, item["since"])
            for day in each_day(first, min(query.last_day, today)):
                recipients = _h("flow-recipients", message_id, day) % 15
                counts = _message_counts((message_id, day), item["channel"], recipients)
                conversions = by_day.get((message_id, day), [])
                if not recipients and not conversions:
                    continue
                self._add_conversions(counts, conversions)
                flow = item["flow"]
                facts.append(
                    Fact(
                        groupings={
                            "flow_id": flow["id"],
                            "flow_name": flow["attributes"].get("name"),
                            "flow_message_id": message_id,
                            "flow_message_name": item["name"],
                            "send_channel": SEND_CHANNELS.get(item["channel"], item["channel"]),
                            "text_message_format": "SMS" if item["channel"] == "sms" else None,
                            "variation": None,
                            "variation_name": None,
                        },
                        tags=self._tags("flow", flow["id"]),
                        day=day,
                        counts=counts,
                    )
                )
        return facts

    def _form_facts(self, query: Query, zone: ZoneInfo, now: datetime) -> list[Fact]:
        today = now.astimezone(zone).date()
        facts = []
        for version in sorted(self.data.stored("form-version").values(), key=lambda v: v["id"]):
            if version["attributes"].get("status") != "live":
                continue
            owners = self.data.targets("form-version", version["id"], "form")
            form = self.data.stored_one("form", owners[0][1]) if owners else None
            if form is None or form["attributes"].get("status") != "live":
                continue
            since = local_day(form["attributes"].get("created_at"), zone)
            if since is None:
                continue
            for day in each_day(max(query.first_day, since), min(query.last_day, today)):
                h = _h("form", version["id"], day)
                viewed = h % 40
                if not viewed:
                    continue
                uniques = viewed * (70 + (h >> 8) % 30) // 100
                submits = uniques * ((h >> 16) % 25) // 100
                closed = (h >> 24) % (viewed // 2 + 1)
                counts = {
                    "viewed_form": viewed,
                    "viewed_form_uniques": uniques,
                    "viewed_form_step": viewed,
                    "viewed_form_step_uniques": uniques,
                    "qualified_form": viewed,
                    "qualified_form_uniques": uniques,
                    "submits": submits,
                    "submitted_form_step": submits,
                    "submitted_form_step_uniques": submits,
                    "closed_form": closed,
                    "closed_form_uniques": min(closed, uniques),
                }
                facts.append(
                    Fact(
                        groupings={"form_id": form["id"], "form_version_id": version["id"]},
                        tags=[],
                        day=day,
                        counts={k: float(v) for k, v in counts.items()},
                    )
                )
        return facts

    def _segment_facts(self, query: Query, zone: ZoneInfo, now: datetime) -> list[Fact]:
        today = now.astimezone(zone).date()
        facts = []
        for segment_id in sorted(self.data.stored("segment")):
            joined = sorted(
                day
                for day in (
                    local_day(stamp, zone)
                    for stamp in self.data.membership("segment", segment_id).values()
                )
                if day is not None
            )
            total = sum(1 for day in joined if day < query.first_day)
            for day in each_day(query.first_day, min(query.last_day, today)):
                added = sum(1 for d in joined if d == day)
                total += added
                facts.append(
                    Fact(
                        groupings={"segment_id": segment_id},
                        tags=[],
                        day=day,
                        counts={
                            "members_added": float(added),
                            "members_removed": 0.0,
                            "total_members": float(total),
                        },
                    )
                )
        return facts
