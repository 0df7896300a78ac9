"""What the dbt marts (transform/) should hold, computed from the simulator's own data.

Straight from the stored resources, with Klaviyo's rules as the README states them: an
email event belongs to a flow message when it carries `$flow` (its `$message` is the flow
message), to a campaign when it carries `Campaign Name` (its `$message` is the campaign);
an order is credited to the message of the event its `$attribution` names; revenue is the
order's `$value`; days are days in the account's timezone. No SQL and no tap code.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

CONVERSION_METRIC = "Placed Order"
DELIVERED_METRIC = "Received Email"
OPEN_METRIC = "Opened Email"
CLICK_METRIC = "Clicked Email"

CampaignDay = tuple[str, date]  # campaign id, day
FlowDay = tuple[str, str, date]  # flow id, flow message id, day


@dataclass
class Performance:
    delivered: int = 0
    opens: int = 0
    clicks: int = 0
    conversions: int = 0
    revenue: Decimal = Decimal(0)

    def row(self) -> tuple[int, int, int, int, Decimal]:
        return (self.delivered, self.opens, self.clicks, self.conversions, self.revenue)


@dataclass(frozen=True)
class Orders:
    count: int
    revenue: Decimal
    first: datetime | None
    last: datetime | None


def money(value: Any) -> Decimal:
    """`$value` as PostgreSQL's numeric reads the JSON number: exactly as written."""
    return Decimal(str(value)) if isinstance(value, int | float) else Decimal(0)


class SimFacts:
    """The simulator's data as the marts should summarise it."""

    def __init__(self, data: Any) -> None:
        account = data.get("account")[0]["attributes"]
        self.zone = ZoneInfo(account["timezone"])
        self.metric_names = {m["id"]: m["attributes"]["name"] for m in data.get("metric")}
        self.events = {e["id"]: e for e in data.get("event")}
        self.profiles = {p["id"]: p for p in data.get("profile")}
        self.lists = {list_id: data.members("list", list_id) for list_id in data.ids("list")}

    # -- one event ---------------------------------------------------------------------

    def metric(self, event: dict[str, Any]) -> str | None:
        ref = (event.get("relationships") or {}).get("metric", {}).get("data") or {}
        return self.metric_names.get(ref.get("id"))

    def profile(self, event: dict[str, Any]) -> str | None:
        ref = (event.get("relationships") or {}).get("profile", {}).get("data") or {}
        return ref.get("id")

    def day(self, event: dict[str, Any]) -> date:
        return self.at(event).astimezone(self.zone).date()

    @staticmethod
    def at(event: dict[str, Any]) -> datetime:
        return datetime.fromisoformat(event["attributes"]["datetime"])

    @staticmethod
    def properties(event: dict[str, Any]) -> dict[str, Any]:
        return event["attributes"].get("event_properties") or {}

    def message(self, event: dict[str, Any]) -> tuple[str, ...] | None:
        """("flow", flow id, flow message id) or ("campaign", campaign id) of an email event."""
        props = self.properties(event)
        if props.get("$flow") and props.get("$message"):
            return ("flow", props["$flow"], props["$message"])
        if props.get("Campaign Name") and props.get("$message"):
            return ("campaign", props["$message"])
        return None

    def credited(self, order: dict[str, Any]) -> tuple[str, ...] | None:
        """The message of the event an order's attribution names."""
        props = self.properties(order)
        attribution = props.get("$attribution") or {}
        credited_id = attribution.get("$attributed_event_id") or props.get("$attributed_event_id")
        credited = self.events.get(credited_id) if credited_id else None
        return self.message(credited) if credited is not None else None

    def conversions(self) -> list[dict[str, Any]]:
        return [e for e in self.events.values() if self.metric(e) == CONVERSION_METRIC]

    # -- marts -------------------------------------------------------------------------

    def message_days(self) -> tuple[dict[CampaignDay, Performance], dict[FlowDay, Performance]]:
        """fct_campaign_message_daily and fct_flow_message_daily, from events."""
        campaigns: dict[CampaignDay, Performance] = defaultdict(Performance)
        flows: dict[FlowDay, Performance] = defaultdict(Performance)

        def row(message: tuple[str, ...], day: date) -> Performance:
            if message[0] == "flow":
                return flows[(message[1], message[2], day)]
            return campaigns[(message[1], day)]

        counted = {DELIVERED_METRIC: "delivered", OPEN_METRIC: "opens", CLICK_METRIC: "clicks"}
        for event in self.events.values():
            metric = self.metric(event)
            if metric in counted and (message := self.message(event)) is not None:
                performance = row(message, self.day(event))
                setattr(performance, counted[metric], getattr(performance, counted[metric]) + 1)
        for order in self.conversions():
            if (message := self.credited(order)) is not None:
                performance = row(message, self.day(order))
                performance.conversions += 1
                performance.revenue += money(self.properties(order).get("$value"))
        return dict(campaigns), dict(flows)

    def orders(self) -> dict[str, Orders]:
        """dim_profiles' order columns, for every profile (none: 0 orders)."""
        by_profile: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for order in self.conversions():
            by_profile[self.profile(order) or ""].append(order)
        out = {}
        for profile_id in self.profiles:
            placed = by_profile.get(profile_id, [])
            times = [self.at(o) for o in placed]
            out[profile_id] = Orders(
                count=len(placed),
                revenue=sum((money(self.properties(o).get("$value")) for o in placed), Decimal(0)),
                first=min(times) if times else None,
                last=max(times) if times else None,
            )
        return out

    def suppression_reasons(self) -> dict[str, set[str]]:
        """The global email suppressions' reasons of every profile (none: an empty set)."""
        out = {}
        for profile_id, profile in self.profiles.items():
            subscriptions = profile["attributes"].get("subscriptions") or {}
            marketing = (subscriptions.get("email") or {}).get("marketing") or {}
            out[profile_id] = {s["reason"] for s in marketing.get("suppression") or []}
        return out

    def list_joins(self) -> dict[tuple[str, date], int]:
        """fct_list_growth_daily's members_joined: members by list and day they joined."""
        out: dict[tuple[str, date], int] = defaultdict(int)
        for list_id, members in self.lists.items():
            for joined in members.values():
                day = datetime.fromisoformat(joined).astimezone(self.zone).date()
                out[(list_id, day)] += 1
        return dict(out)
