"""The query string of a collection request: filters with only the operators the
endpoint accepts, sort, page size and includes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from tap_klaviyo import spec
from tap_klaviyo.dates import parse_datetime, utc_iso

Page = list[dict[str, Any]]


@dataclass(frozen=True)
class Query:
    """How one stream asks its endpoint for records between two instants."""

    operation: spec.Operation
    # The field the endpoint filters and sorts on, e.g. `updated` or
    # `subscriptions.email.marketing.suppression.timestamp`.
    replication_key: str | None = None
    # Context entries turned into `equals(<field>,<value>)` filter terms.
    context_filters: Mapping[str, str] = field(default_factory=dict)
    # Parameters every request carries, e.g. additional-fields.
    static_params: Mapping[str, str] = field(default_factory=dict)
    includes: tuple[str, ...] = ()
    # The record's column holding that value, when it is not the field's own name.
    record_key: str | None = None

    @property
    def column(self) -> str | None:
        return self.record_key or self.replication_key

    @property
    def is_sorted(self) -> bool:
        key = self.replication_key
        return bool(key) and self.operation.can_sort(key)  # type: ignore[arg-type]

    @property
    def can_slice(self) -> bool:
        """Whether the range can be cut into time slices read in parallel: the
        endpoint sorts by the key and bounds it on both sides."""
        if not self.is_sorted:
            return False
        ops = self.operation.operators(self.replication_key)  # type: ignore[arg-type]
        return bool({"greater-or-equal", "greater-than"} & set(ops)) and "less-than" in ops

    def params(
        self, context: Mapping[str, Any] | None, start: datetime | None, end: datetime | None
    ) -> dict[str, Any]:
        params: dict[str, Any] = dict(self.static_params)
        terms = [
            f"equals({name},{filter_literal(context[key])})"
            for key, name in self.context_filters.items()
            if context and key in context
        ]
        if self.replication_key:
            terms.extend(self.bound_terms(start, end))
        if terms:
            params["filter"] = terms[0] if len(terms) == 1 else f"and({','.join(terms)})"
        if self.is_sorted:
            params["sort"] = self.replication_key
        if self.operation.page_size_max:
            params["page[size]"] = self.operation.page_size_max
        if self.includes:
            params["include"] = ",".join(self.includes)
        return params

    def bound_terms(self, start: datetime | None, end: datetime | None) -> list[str]:
        """Server-side bounds on the replication key using only allowed operators.

        The lower bound is inclusive, so records that share the bookmark's
        timestamp are read again rather than lost. Where an operator is missing
        the bound is applied to the records instead (``keep_within``).
        """
        key = self.replication_key
        ops = self.operation.operators(key)  # type: ignore[arg-type]
        terms = []
        if start is not None:
            if "greater-or-equal" in ops:
                terms.append(f"greater-or-equal({key},{utc_iso(start)})")
            elif "greater-than" in ops:
                # Klaviyo timestamps have whole seconds, so this keeps `start` itself.
                floor = start.replace(microsecond=0) - timedelta(seconds=1)
                terms.append(f"greater-than({key},{utc_iso(floor)})")
        if end is not None:
            if "less-than" in ops:
                terms.append(f"less-than({key},{utc_iso(end)})")
            elif "less-or-equal" in ops:
                terms.append(f"less-or-equal({key},{utc_iso(end - timedelta(seconds=1))})")
        return terms

    @cached_property
    def needs_client_bounds(self) -> bool:
        """Whether the filter only approximates [start, end): then records are checked."""
        if not self.replication_key:
            return False
        ops = set(self.operation.operators(self.replication_key))
        return not ({"greater-or-equal", "less-than"} <= ops)

    def keep_within(self, records: Page, start: datetime | None, end: datetime | None) -> Page:
        """Records outside [start, end), for endpoints whose filter cannot express one
        of the bounds exactly."""
        if (self.needs_client_bounds or self.record_key) and (start or end):
            # Rows made from one resource's list (exclusions) carry their own values.
            key = self.column
            return [r for r in records if within(r.get(key), start, end)]  # type: ignore[arg-type]
        return records


def within(value: Any, start: datetime | None, end: datetime | None) -> bool:
    if not isinstance(value, str):
        return True
    try:
        moment = parse_datetime(value)
    except ValueError:
        return True  # the record check names the bad value
    return (start is None or moment >= start) and (end is None or moment < end)


def filter_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return "'" + str(value).replace("'", "\\'") + "'"
