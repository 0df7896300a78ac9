"""Klaviyo's reporting POSTs: body validation, results computed from the store, pagination.

The body rules come from the spec extract (``request_body`` of each operation): required
attributes, the enums of statistics, group-bys, intervals and timeframe keys, and the rules
the spec states in prose (required group-bys, interval and timeframe limits, where segment
data starts, filter attributes and operators).

Results are computed from the store, deterministically (see README.md, "Reports"):

* campaigns: one fact per sent campaign message, dated on its send day in the account's
  timezone; opens, clicks, unsubscribes and spam complaints keep arriving for
  ``CAMPAIGN_SETTLE_DAYS`` after the send, conversions are the conversion metric's events in
  the ``ATTRIBUTION_DAYS`` after it (so a report for a past day changes for days);
* flows: live flows' messages send every day from the flow's creation; the conversion
  metric's events no campaign claims go to one of them (or none) by the event's id;
* forms: live versions of live forms are viewed and submitted every day from creation;
* segments: ``members_added``/``total_members`` from the memberships' ``joined_group_at``.

A timeframe's start and end are read as wall-clock times in the account's timezone (the
spec: "Offset is ignored and the company timezone is used") and both end days count whole:
``start=2024-01-01T00:00:00, end=2024-01-02T00:00:00`` reports two days.
"""

from __future__ import annotations

import calendar
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .data import SimData
from .filters import Condition, DateTimeValue, FilterError, parse_filter
from .query import CursorError, Cursors
from .spec import Operation

# Conversions within this many days after a campaign's send are attributed to it.
ATTRIBUTION_DAYS = 5
# A campaign's opens and clicks keep arriving for this many days after the send.
CAMPAIGN_SETTLE_DAYS = 7
DEFAULT_PAGE_SIZE = 500
METRIC_AGGREGATE_MAX_PAGE_SIZE = 500
# The spec: "a few notable exceptions are `Factory`, `Europe/Kyiv` and `Pacific/Kanton`".
UNSUPPORTED_TIMEZONES = frozenset({"Factory", "Europe/Kyiv", "Pacific/Kanton"})
SEND_CHANNELS = {"email": "email", "sms": "sms", "mobile_push": "push-notification"}

REPORTS: dict[str, tuple[str, str]] = {
    "query_campaign_values": ("campaign", "values"),
    "query_flow_values": ("flow", "values"),
    "query_flow_series": ("flow", "series"),
    "query_form_values": ("form", "values"),
    "query_form_series": ("form", "series"),
    "query_segment_values": ("segment", "values"),
    "query_segment_series": ("segment", "series"),
}
# Statistics reported as the value at the end of a range rather than a sum over it.
LAST_VALUE = frozenset({"total_members"})
_MONTH_NAMES = {i: name for i, name in enumerate(calendar.month_name) if name}


class BodyError(Exception):
    """A request Klaviyo would reject; the server turns it into a JSON:API error."""

    def __init__(
        self, detail: str, pointer: str | None = None, parameter: str | None = None
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.pointer = pointer
        self.parameter = parameter


@dataclass
class Fact:
    """Counts of one reportable thing (a message, a form version, a segment) on one day."""

    groupings: dict[str, Any]
    # Tags the thing carries (id, name): for tag_id/tag_name group-bys and filters.
    tags: list[tuple[str, str]]
    day: date
    counts: dict[str, float]


@dataclass
class Query:
    family: str
    kind: str
    statistics: list[str]
    first_day: date
    last_day: date
    group_by: list[str]
    conditions: list[Condition]
    interval: str | None
    conversion_metric_id: str | None
    start_wall: datetime
    end_wall: datetime
    extra: dict[str, Any] = field(default_factory=dict)


def _h(*parts: Any) -> int:
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _parse_instant(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return value


def account_zone(data: SimData) -> ZoneInfo:
    for account in data.stored("account").values():
        name = account["attributes"].get("timezone")
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                break
    return ZoneInfo("UTC")


def _local_day(stamp: str | None, zone: ZoneInfo) -> date | None:
    moment = _parse_instant(stamp)
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(zone).date()


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _add_years(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year + years, day=28)


def _days(first: date, last: date) -> Iterable[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def key_timeframe(key: str, today: date) -> tuple[date, date]:
    """The days a predefined timeframe key covers (weeks start on Monday)."""
    yesterday = today - timedelta(days=1)
    monday = today - timedelta(days=today.weekday())
    first_of_month = today.replace(day=1)
    spans: dict[str, tuple[date, date]] = {
        "today": (today, today),
        "yesterday": (yesterday, yesterday),
        "last_7_days": (today - timedelta(days=7), yesterday),
        "last_30_days": (today - timedelta(days=30), yesterday),
        "last_90_days": (today - timedelta(days=90), yesterday),
        "last_365_days": (today - timedelta(days=365), yesterday),
        "last_3_months": (_add_months(today, -3), yesterday),
        "last_12_months": (_add_months(today, -12), yesterday),
        "this_week": (monday, today),
        "last_week": (monday - timedelta(days=7), monday - timedelta(days=1)),
        "this_month": (first_of_month, today),
        "last_month": (_add_months(first_of_month, -1), first_of_month - timedelta(days=1)),
        "this_year": (date(today.year, 1, 1), today),
        "last_year": (date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)),
    }
    return spans[key]


# -- statistics -------------------------------------------------------------------------------


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator) / float(denominator) if denominator else 0.0


MESSAGE_RATES: dict[str, Callable[[dict[str, float]], float]] = {
    "average_order_value": lambda c: _ratio(c["conversion_value"], c["conversions"]),
    "bounce_rate": lambda c: _ratio(c["bounced"], c["recipients"]),
    "bounced_or_failed_rate": lambda c: _ratio(c["bounced"] + c["failed"], c["recipients"]),
    "click_rate": lambda c: _ratio(c["clicks_unique"], c["delivered"]),
    "click_to_open_rate": lambda c: _ratio(c["clicks_unique"], c["opens_unique"]),
    "conversion_rate": lambda c: _ratio(c["conversion_uniques"], c["delivered"]),
    "delivery_rate": lambda c: _ratio(c["delivered"], c["recipients"]),
    "failed_rate": lambda c: _ratio(c["failed"], c["recipients"]),
    "open_rate": lambda c: _ratio(c["opens_unique"], c["delivered"]),
    "revenue_per_recipient": lambda c: _ratio(c["conversion_value"], c["recipients"]),
    "spam_complaint_rate": lambda c: _ratio(c["spam_complaints"], c["delivered"]),
    "text_message_roi": lambda c: _ratio(c["conversion_value"], c["text_message_spend"]),
    "unsubscribe_rate": lambda c: _ratio(c["unsubscribe_uniques"], c["delivered"]),
    "bounced_or_failed": lambda c: c["bounced"] + c["failed"],
}
FORM_RATES: dict[str, Callable[[dict[str, float]], float]] = {
    "submit_rate": lambda c: _ratio(c["submits"], c["viewed_form_uniques"]),
}
SEGMENT_RATES: dict[str, Callable[[dict[str, float]], float]] = {
    "net_members_changed": lambda c: c["members_added"] - c["members_removed"],
}
RATES = {"campaign": MESSAGE_RATES, "flow": MESSAGE_RATES, "form": FORM_RATES}
RATES["segment"] = SEGMENT_RATES


def statistic(family: str, name: str, counts: dict[str, float]) -> float:
    derived = RATES[family].get(name)
    value = derived(counts) if derived else counts.get(name, 0.0)
    return float(value)


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


# Counts that keep arriving after a campaign's send; the rest are known at the send.
_SETTLING = ("opens", "opens_unique", "clicks", "clicks_unique", "unsubscribes")
_SETTLING += ("unsubscribe_uniques", "spam_complaints")


class ReportEngine:
    """Validates report bodies and computes their results; the caller holds the data lock."""

    def __init__(self, data: SimData, cursors: Cursors) -> None:
        self.data = data
        self.cursors = cursors

    # -- validation ---------------------------------------------------------------------------

    def parse_body(self, op: Operation, raw: bytes) -> dict[str, Any]:
        rules = op.request_body or {}
        try:
            document = json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BodyError(f"Malformed request body: {exc}.", "/") from None
        if not isinstance(document, dict) or not isinstance(document.get("data"), dict):
            raise BodyError("The request body must be a JSON:API document with `data`.", "/data")
        data = document["data"]
        if data.get("type") != rules.get("type"):
            raise BodyError(
                f"The resource type must be '{rules.get('type')}', got {data.get('type')!r}.",
                "/data/type",
            )
        attributes = data.get("attributes")
        if not isinstance(attributes, dict):
            raise BodyError("`attributes` is required and must be an object.", "/data/attributes")
        allowed = rules.get("attributes", {})
        for name in attributes:
            if name not in allowed:
                raise BodyError(
                    f"'{name}' is not a valid field for the resource '{rules.get('type')}'.",
                    f"/data/attributes/{name}",
                )
        for name in rules.get("required", []):
            if attributes.get(name) is None:
                raise BodyError(
                    f"'{name}' is a required field for the resource '{rules.get('type')}'.",
                    f"/data/attributes/{name}",
                )
        for name, value in attributes.items():
            self._check_type(name, value, allowed[name])
        return attributes

    @staticmethod
    def _check_type(name: str, value: Any, rule: dict[str, Any]) -> None:
        pointer = f"/data/attributes/{name}"
        if value is None:
            if not rule.get("nullable") and rule.get("type") != "object":
                raise BodyError(f"'{name}' may not be null.", pointer)
            return
        kind = rule.get("type")
        enum = rule.get("enum")
        if kind == "array":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise BodyError(f"'{name}' must be a list of strings.", pointer)
            for item in value:
                if enum and item not in enum:
                    raise BodyError(
                        f"'{item}' is not a valid choice for '{name}'. "
                        f"Valid choices: {', '.join(enum)}.",
                        pointer,
                    )
            if len(set(value)) != len(value):
                raise BodyError(f"'{name}' lists a value more than once.", pointer)
        elif kind == "string":
            if not isinstance(value, str):
                raise BodyError(f"'{name}' must be a string.", pointer)
            if enum and value not in enum:
                raise BodyError(
                    f"'{value}' is not a valid choice for '{name}'. "
                    f"Valid choices: {', '.join(enum)}.",
                    pointer,
                )
        elif kind == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                raise BodyError(f"'{name}' must be an integer.", pointer)
        elif kind == "object" and not isinstance(value, dict):
            raise BodyError(f"'{name}' must be an object.", pointer)

    def _timeframe(self, op: Operation, value: dict[str, Any], today: date) -> Query:
        rules = (op.request_body or {}).get("rules", {})
        pointer = "/data/attributes/timeframe"
        if "key" in value:
            if set(value) != {"key"}:
                raise BodyError("A timeframe has either a `key` or a `start` and `end`.", pointer)
            if value["key"] not in rules.get("timeframe_keys", []):
                raise BodyError(f"'{value['key']}' is not a valid timeframe key.", pointer)
            first, last = key_timeframe(value["key"], today)
            start_wall = datetime.combine(first, time())
            end_wall = datetime.combine(last, time(23, 59, 59))
        else:
            if set(value) != {"start", "end"}:
                raise BodyError("A custom timeframe needs exactly `start` and `end`.", pointer)
            parsed = []
            for side in ("start", "end"):
                moment = _parse_instant(value[side])
                if moment is None:
                    raise BodyError(
                        f"Timeframe `{side}` {value[side]!r} is not a date-time.",
                        f"{pointer}/{side}",
                    )
                # Offset is ignored and the company timezone is used.
                parsed.append(moment.replace(tzinfo=None))
            start_wall, end_wall = parsed
            if end_wall < start_wall:
                raise BodyError("The timeframe's end is before its start.", pointer)
        years = rules.get("timeframe_max_years", 1)
        if end_wall > _add_years(start_wall, years):
            raise BodyError(f"The timeframe must be {years} year or shorter.", pointer)
        starts = rules.get("data_starts")
        if starts and start_wall.date() < date.fromisoformat(starts):
            first_day = date.fromisoformat(starts)
            raise BodyError(
                f"Data is unavailable before {_MONTH_NAMES[first_day.month]} "
                f"{first_day.day}, {first_day.year}. Please use a time frame after this date.",
                pointer,
            )
        family, kind = REPORTS[op.operation_id]
        return Query(
            family=family,
            kind=kind,
            statistics=[],
            first_day=start_wall.date(),
            last_day=end_wall.date(),
            group_by=[],
            conditions=[],
            interval=None,
            conversion_metric_id=None,
            start_wall=start_wall,
            end_wall=end_wall,
        )

    def parse_report(self, op: Operation, attributes: dict[str, Any]) -> Query:
        rules = (op.request_body or {}).get("rules", {})
        zone = account_zone(self.data)
        today = self.data.now().astimezone(zone).date()
        timeframe = attributes["timeframe"]
        if not isinstance(timeframe, dict):
            raise BodyError("`timeframe` must be an object.", "/data/attributes/timeframe")
        query = self._timeframe(op, timeframe, today)
        statistics = attributes["statistics"]
        if not statistics:
            raise BodyError("At least one statistic is required.", "/data/attributes/statistics")
        query.statistics = list(statistics)
        interval = attributes.get("interval")
        if query.kind == "series":
            limit = rules.get("interval_max_days", {}).get(interval)
            if limit is not None and query.end_wall - query.start_wall > timedelta(days=limit):
                unit = f"{limit // 7} weeks" if limit % 7 == 0 and limit > 60 else f"{limit} days"
                raise BodyError(
                    f"If {interval} is used, the timeframe cannot be longer than {unit}.",
                    "/data/attributes/timeframe",
                )
            query.interval = interval
        group_by = attributes.get("group_by")
        if "group_by" in (op.request_body or {}).get("attributes", {}):
            if group_by is None:
                group_by = rules.get("group_by_default", [])
            missing = [g for g in rules.get("group_by_required", []) if g not in group_by]
            if missing:
                raise BodyError(
                    f"The following group by attributes are required: {', '.join(missing)}.",
                    "/data/attributes/group_by",
                )
            for name, needs in rules.get("group_by_prerequisites", {}).items():
                if name in group_by and any(n not in group_by for n in needs):
                    raise BodyError(
                        f"The prerequisites for {name} is {', '.join(needs)}.",
                        "/data/attributes/group_by",
                    )
            query.group_by = list(group_by)
        else:
            query.group_by = ["segment_id"]
        metric_id = attributes.get("conversion_metric_id")
        if metric_id is not None:
            if self.data.stored_one("metric", metric_id) is None:
                raise BodyError(
                    f"Conversion metric '{metric_id}' does not exist.",
                    "/data/attributes/conversion_metric_id",
                )
            query.conversion_metric_id = metric_id
        if attributes.get("filter") is not None:
            query.conditions = self._report_filter(rules, attributes["filter"])
        return query

    @staticmethod
    def _report_filter(rules: dict[str, Any], text: str) -> list[Condition]:
        pointer = "/data/attributes/filter"
        try:
            conditions = parse_filter(text)
        except FilterError as exc:
            raise BodyError(str(exc), pointer) from None
        operators = rules.get("filter_operators", {})
        seen: set[str] = set()
        for condition in conditions:
            allowed = operators.get(condition.field)
            if allowed is None:
                raise BodyError(f"'{condition.field}' is not a valid filter attribute.", pointer)
            if condition.operator not in allowed:
                raise BodyError(
                    f"'{condition.operator}' is not a valid operator for {condition.field}. "
                    f"Valid operators: {', '.join(allowed)}.",
                    pointer,
                )
            if condition.field in seen:
                raise BodyError("Only one filter can be used per attribute.", pointer)
            seen.add(condition.field)
            values = condition.value if isinstance(condition.value, list) else [condition.value]
            if condition.operator == "equals" and isinstance(condition.value, list):
                raise BodyError(f"equals({condition.field}, ...) takes one value.", pointer)
            if condition.operator != "equals" and not isinstance(condition.value, list):
                raise BodyError(f"{condition.operator} takes a list of values.", pointer)
            most = rules.get("filter_max_list")
            if most and len(values) > most:
                raise BodyError(f"Max of {most} items per list filter.", pointer)
            choices = rules.get("filter_values", {}).get(condition.field)
            for value in values:
                if not isinstance(value, str):
                    raise BodyError(f"Filter values for {condition.field} are strings.", pointer)
                if choices and value not in choices:
                    raise BodyError(
                        f"When filtering on {condition.field}, allowed values are "
                        f"{', '.join(choices)}.",
                        pointer,
                    )
        return conditions

    # -- facts --------------------------------------------------------------------------------

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
            moment = _parse_instant(event["attributes"].get("datetime"))
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
            send = _parse_instant(campaign["attributes"].get("send_time"))
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
        window = timedelta(days=ATTRIBUTION_DAYS)
        for event in events:
            owner = None
            for item in sent:
                if item["send"] <= event["when"] < item["send"] + window:
                    owner = item  # the latest send before the event wins
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
            since = _local_day(flow["attributes"].get("created"), zone)
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
            candidates = [m for m in live if m["since"] <= day]
            pick = _h("flow-conversion", event["id"]) % (len(candidates) + 1)
            if pick < len(candidates):
                by_day.setdefault((candidates[pick]["message"]["id"], day), []).append(event)
        facts = []
        for item in live:
            message_id = item["message"]["id"]
            first = max(query.first_day, item["since"])
            for day in _days(first, min(query.last_day, today)):
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
            since = _local_day(form["attributes"].get("created_at"), zone)
            if since is None:
                continue
            for day in _days(max(query.first_day, since), min(query.last_day, today)):
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
                    _local_day(stamp, zone)
                    for stamp in self.data.membership("segment", segment_id).values()
                )
                if day is not None
            )
            total = sum(1 for day in joined if day < query.first_day)
            for day in _days(query.first_day, min(query.last_day, today)):
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

    # -- results ------------------------------------------------------------------------------

    @staticmethod
    def _matches(fact: Fact, conditions: list[Condition]) -> bool:
        for condition in conditions:
            if condition.field in ("tag_id", "tag_name"):
                have = {t[0] if condition.field == "tag_id" else t[1] for t in fact.tags}
                wanted = set(condition.value if isinstance(condition.value, list) else [])
                if condition.operator == "contains-all" and not wanted <= have:
                    return False
                if condition.operator == "contains-any" and not wanted & have:
                    return False
                continue
            value = fact.groupings.get(condition.field)
            if isinstance(condition.value, list):
                if value not in condition.value:
                    return False
            elif value != condition.value:
                return False
        return True

    @staticmethod
    def _expand(fact: Fact, group_by: list[str]) -> list[dict[str, Any]]:
        """The fact's grouping values; one per tag when grouping by tag."""
        base = {
            name: fact.groupings.get(name)
            for name in group_by
            if name not in ("tag_id", "tag_name")
        }
        if "tag_id" not in group_by and "tag_name" not in group_by:
            return [base]
        rows = []
        for tag_id, tag_name in fact.tags or [(None, None)]:
            row = dict(base)
            if "tag_id" in group_by:
                row["tag_id"] = tag_id
            if "tag_name" in group_by:
                row["tag_name"] = tag_name
            rows.append(row)
        return rows

    def buckets(self, query: Query) -> list[tuple[date, date]]:
        """Series intervals over the timeframe: (first day, last day) inside it."""
        interval = query.interval or "daily"
        spans = []
        day = query.first_day
        while day <= query.last_day:
            if interval in ("daily", "hourly"):
                end = day
            elif interval == "weekly":
                end = day + timedelta(days=6 - day.weekday())
            else:
                end = date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])
            end = min(end, query.last_day)
            spans.append((day, end))
            day = end + timedelta(days=1)
        return spans

    def results(self, query: Query) -> tuple[list[dict[str, Any]], list[str] | None]:
        facts = [f for f in self.facts(query) if self._matches(f, query.conditions)]
        zone = account_zone(self.data)
        grouped: dict[str, tuple[dict[str, Any], list[Fact]]] = {}
        for fact in facts:
            for groupings in self._expand(fact, query.group_by):
                key = json.dumps(groupings, sort_keys=True, default=str)
                grouped.setdefault(key, (groupings, []))[1].append(fact)
        ordered = sorted(
            grouped.values(),
            key=lambda item: [
                "" if item[0].get(g) is None else str(item[0].get(g)) for g in query.group_by
            ],
        )
        if query.kind == "values":
            results = [
                {"groupings": groupings, "statistics": self._combine(query, group)}
                for groupings, group in ordered
            ]
            return results, None
        spans = self.buckets(query)
        date_times: list[str] = []
        hourly = query.interval == "hourly"
        for first, _ in spans:
            for hour in range(24) if hourly else (0,):
                moment = datetime.combine(first, time(hour)).replace(tzinfo=zone)
                date_times.append(moment.isoformat())
        results = []
        for groupings, group in ordered:
            series: dict[str, list[float]] = {name: [] for name in query.statistics}
            for first, last in spans:
                inside = [f for f in group if first <= f.day <= last]
                for hour in range(24) if hourly else (0,):
                    # Hourly series put each day's activity in its 10 o'clock hour.
                    chosen = inside if not hourly or hour == 10 else []
                    combined = self._combine(query, chosen)
                    for name in query.statistics:
                        series[name].append(combined[name])
            results.append({"groupings": groupings, "statistics": series})
        return results, date_times

    @staticmethod
    def _combine(query: Query, facts: list[Fact]) -> dict[str, float]:
        counts: dict[str, float] = {}
        last_day: dict[str, date] = {}
        for fact in facts:
            for name, value in fact.counts.items():
                if name in LAST_VALUE:
                    if fact.day >= last_day.get(name, date.min):
                        last_day[name] = fact.day
                        counts[name] = value
                else:
                    counts[name] = counts.get(name, 0.0) + value
        for name in list(counts):
            counts[name] = round(counts[name], 4)
        return {
            name: round(statistic(query.family, name, _Defaulting(counts)), 6)
            for name in query.statistics
        }

    # -- metric aggregates --------------------------------------------------------------------

    def metric_aggregate(
        self, op: Operation, attributes: dict[str, Any], default_page_size: int | None = None
    ) -> tuple[dict[str, Any], list[dict[str, Any]], int]:
        """(query, rows, page size) for a metric-aggregate body; ``default_page_size``
        replaces the spec's default of 500 for bodies without ``page_size``."""
        rules = (op.request_body or {}).get("attributes", {})
        metric_id = attributes["metric_id"]
        if self.data.stored_one("metric", metric_id) is None:
            raise BodyError(f"Metric '{metric_id}' does not exist.", "/data/attributes/metric_id")
        measurements = attributes["measurements"]
        if not measurements:
            raise BodyError(
                "At least one measurement is required.", "/data/attributes/measurements"
            )
        interval = attributes.get("interval") or rules.get("interval", {}).get("default") or "day"
        page_size = attributes.get("page_size")
        if page_size is None:
            page_size = default_page_size or (
                rules.get("page_size", {}).get("default") or METRIC_AGGREGATE_MAX_PAGE_SIZE
            )
        if not 1 <= page_size <= METRIC_AGGREGATE_MAX_PAGE_SIZE:
            raise BodyError(
                f"page_size must be between 1 and {METRIC_AGGREGATE_MAX_PAGE_SIZE}.",
                "/data/attributes/page_size",
            )
        zone_name = attributes.get("timezone") or "UTC"
        try:
            if zone_name in UNSUPPORTED_TIMEZONES:
                raise ZoneInfoNotFoundError(zone_name)
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise BodyError(
                f"'{zone_name}' is not a supported timezone.", "/data/attributes/timezone"
            ) from None
        by = attributes.get("by") or []
        allowed_by = set(rules.get("by", {}).get("enum") or [])
        start = end = None
        dimension_filters: list[Condition] = []
        for index, text in enumerate(attributes["filter"]):
            pointer = f"/data/attributes/filter/{index}"
            if not isinstance(text, str):
                raise BodyError("Each filter is a string.", pointer)
            try:
                conditions = parse_filter(text)
            except FilterError as exc:
                raise BodyError(str(exc), pointer) from None
            for condition in conditions:
                if condition.field == "datetime":
                    if not isinstance(condition.value, DateTimeValue):
                        raise BodyError("datetime filters take a date-time.", pointer)
                    moment = _parse_instant(condition.value.text)
                    if moment is None:
                        raise BodyError("datetime filters take a date-time.", pointer)
                    if moment.tzinfo is None:
                        moment = moment.replace(tzinfo=zone)
                    if condition.operator == "greater-or-equal" and start is None:
                        start = moment
                    elif condition.operator == "less-than" and end is None:
                        end = moment
                    else:
                        raise BodyError(
                            "The time range is one greater-or-equal and one less-than filter "
                            "on datetime.",
                            pointer,
                        )
                elif condition.field in allowed_by:
                    if condition.operator not in ("equals", "any"):
                        raise BodyError(
                            f"'{condition.operator}' is not supported on {condition.field}.",
                            pointer,
                        )
                    dimension_filters.append(condition)
                else:
                    raise BodyError(f"'{condition.field}' cannot be filtered on.", pointer)
        if start is None or end is None:
            raise BodyError(
                "The filter must include a time range: greater-or-equal(datetime,...) and "
                "less-than(datetime,...).",
                "/data/attributes/filter",
            )
        if end <= start:
            raise BodyError("The time range is empty.", "/data/attributes/filter")
        query = {
            "metric_id": metric_id,
            "measurements": measurements,
            "interval": interval,
            "zone": zone,
            "by": by,
            "start": start,
            "end": end,
            "filters": dimension_filters,
            "sort": attributes.get("sort"),
        }
        return query, self._aggregate(query), page_size

    def aggregate_dates(self, query: dict[str, Any]) -> list[datetime]:
        zone, interval = query["zone"], query["interval"]
        local = query["start"].astimezone(zone)
        if interval == "hour":
            first = local.replace(minute=0, second=0, microsecond=0)
        else:
            first = datetime.combine(local.date(), time(), tzinfo=zone)
            if interval == "week":
                first -= timedelta(days=first.weekday())
            elif interval == "month":
                first = first.replace(day=1)
        dates = []
        current = first
        while current < query["end"]:
            dates.append(current)
            if interval == "hour":
                current = (current.astimezone(timezone.utc) + timedelta(hours=1)).astimezone(zone)
            elif interval == "day":
                current = datetime.combine(current.date() + timedelta(days=1), time(), zone)
            elif interval == "week":
                current = datetime.combine(current.date() + timedelta(days=7), time(), zone)
            else:
                current = datetime.combine(_add_months(current.date(), 1), time(), zone)
        return dates

    def _aggregate(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        dates = self.aggregate_dates(query)
        width = len(dates)
        rows: dict[tuple[str, ...], dict[str, Any]] = {}
        if not query["by"]:
            # Without a group-by there is always one row, zeros included.
            rows[()] = _empty_row(width)
        for event in self.data.stored("event").values():
            links = self.data.links_of("event", event["id"])
            if ("metric", query["metric_id"]) not in links.get("metric", {}):
                continue
            moment = _parse_instant(event["attributes"].get("datetime"))
            if moment is None or not query["start"] <= moment < query["end"]:
                continue
            properties = event["attributes"].get("event_properties") or {}
            dims = tuple(_dimension(properties.get(name)) for name in query["by"])
            if not all(c.matches([_dimension(properties.get(c.field))]) for c in query["filters"]):
                continue
            index = sum(1 for d in dates if d <= moment) - 1
            if index < 0:
                continue
            row = rows.get(dims) or rows.setdefault(dims, _empty_row(width))
            row["count"][index] += 1
            value = properties.get("$value")
            if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
                row["sum"][index] = round(row["sum"][index] + float(value), 2)
            profile = next(iter(links.get("profile", {})), None)
            row["unique"][index].add(profile[1] if profile else event["id"])
        out = []
        for dims, row in rows.items():
            measured = {}
            for name in query["measurements"]:
                if name == "count":
                    measured[name] = [float(v) for v in row["count"]]
                elif name == "sum_value":
                    measured[name] = [float(v) for v in row["sum"]]
                else:
                    measured[name] = [float(len(v)) for v in row["unique"]]
            out.append({"dimensions": list(dims), "measurements": measured})
        sort = query.get("sort")
        if sort and sort.lstrip("-") in query["by"]:
            position = query["by"].index(sort.lstrip("-"))
            out.sort(key=lambda r: r["dimensions"][position], reverse=sort.startswith("-"))
        else:
            out.sort(key=lambda r: r["dimensions"])
        return out


class _Defaulting(dict):  # type: ignore[type-arg]
    """Counts where a statistic the facts never mention is zero."""

    def __missing__(self, key: str) -> float:
        return 0.0


def _empty_row(width: int) -> dict[str, Any]:
    return {"count": [0] * width, "sum": [0.0] * width, "unique": [set() for _ in range(width)]}


def _dimension(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def body_hash(operation_id: str, attributes: dict[str, Any]) -> str:
    """What a cursor is bound to: the operation and the body without its cursor."""
    relevant = {k: v for k, v in attributes.items() if k != "page_cursor"}
    blob = json.dumps([operation_id, relevant], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def encode_offset(cursors: Cursors, query_hash: str, offset: int) -> str:
    return cursors.encode(query_hash, ((0, offset), ""))


def decode_offset(
    cursors: Cursors,
    query_hash: str,
    cursor: str,
    *,
    pointer: str | None = None,
    parameter: str | None = None,
) -> int:
    try:
        (_, offset), _ = cursors.decode(query_hash, cursor)
    except (CursorError, ValueError, TypeError) as exc:
        detail = str(exc) if isinstance(exc, CursorError) else "Invalid page cursor."
        raise BodyError(detail, pointer, parameter) from None
    if not isinstance(offset, int) or offset < 0:
        raise BodyError("Invalid page cursor.", pointer, parameter)
    return offset
