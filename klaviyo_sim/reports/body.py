"""Report request bodies: the rules of the spec extract's ``request_body`` (attributes and
their types, enums, required group-bys, interval and timeframe limits, where segment data
starts, filter attributes and operators), turned into a ``Query``."""

from __future__ import annotations

import calendar
import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from ..data import SimData
from ..filters import Condition, FilterError, parse_filter
from ..spec import Operation
from .dates import account_zone, add_years, key_timeframe, parse_instant

REPORTS: dict[str, tuple[str, str]] = {
    "query_campaign_values": ("campaign", "values"),
    "query_flow_values": ("flow", "values"),
    "query_flow_series": ("flow", "series"),
    "query_form_values": ("form", "values"),
    "query_form_series": ("form", "series"),
    "query_segment_values": ("segment", "values"),
    "query_segment_series": ("segment", "series"),
}
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


class BodyRules:
    """``ReportEngine``'s body validation."""

    data: SimData

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
                moment = parse_instant(value[side])
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
        if end_wall > add_years(start_wall, years):
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
