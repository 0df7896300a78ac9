"""Columns derived from a record's own values, declared as data.

Klaviyo keeps what caused an event inside ``event_properties`` (``$flow``,
``$message``, ``$attribution``...). A ``Derived`` column reads the first of its paths
that holds a value, optionally only when another path does (or does not), or looks the
value up in a map the run resolved once (a metric's name by its id).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tap_klaviyo.transport.jsonapi import Resource, flatten_resource

Path = tuple[str, ...]


def value_at(record: Mapping[str, Any], path: Path) -> Any:
    node: Any = record
    for part in path:
        if type(node) is not dict:
            return None
        node = node.get(part)
    return node


@dataclass(frozen=True)
class Derived:
    column: str
    paths: tuple[Path, ...]
    # Only when this path holds a value / only when it holds none.
    when: Path | None = None
    unless: Path | None = None
    # The value is looked up in the run's map of this name (``Deriver.maps``).
    via: str | None = None
    # The column's JSON type (always nullable).
    kind: str = "string"

    def schema(self) -> dict[str, Any]:
        return {"type": [self.kind, "null"]}


class Deriver:
    """Adds a stream's derived columns to each record, in place."""

    def __init__(self, columns: tuple[Derived, ...], maps: Mapping[str, Mapping]) -> None:
        self.columns = columns
        self.maps = maps

    def __call__(self, record: dict[str, Any]) -> dict[str, Any]:
        for derived in self.columns:
            value = None
            if derived.when is not None and value_at(record, derived.when) in (None, ""):
                record.setdefault(derived.column, None)
                continue
            if derived.unless is not None and value_at(record, derived.unless) not in (None, ""):
                record.setdefault(derived.column, None)
                continue
            for path in derived.paths:
                value = value_at(record, path)
                if value not in (None, ""):
                    break
            if derived.via is not None and value is not None:
                value = self.maps.get(derived.via, {}).get(value) if type(value) is str else None
            if value in ("", None):
                value = None
            elif derived.kind == "string" and not isinstance(value, str):
                value = str(value)
            record.setdefault(derived.column, value)
        return record


@dataclass(frozen=True)
class Explode:
    """One row per item of a list inside each record (a profile's suppressions, say):
    the item's values, the record's columns in ``keep`` (renamed), and ``add``."""

    path: Path
    keep: tuple[tuple[str, str], ...]
    add: tuple[tuple[str, Any], ...] = ()

    def rows(self, record: Mapping[str, Any]) -> list[dict[str, Any]]:
        items = value_at(record, self.path)
        if type(items) is not list:
            return []
        base = {to: record.get(source) for source, to in self.keep}
        base.update(self.add)
        return [{**base, **item} for item in items if type(item) is dict]


@dataclass(frozen=True)
class FromIncluded:
    """One row per resource of ``type`` that ``include`` added to a page (an event's
    attributions, say): its id and relationship ids, and the columns in ``keep`` of the
    page's record that its ``owner`` column names (the event's datetime)."""

    type: str
    owner: str
    keep: tuple[str, ...]

    def rows(self, records: list[dict[str, Any]], included: list[Resource]) -> list[dict]:
        by_owner: dict[Any, list[dict[str, Any]]] = {}
        for resource in included:
            if resource.type == self.type:
                row = flatten_resource(resource)
                by_owner.setdefault(row.get(self.owner), []).append(row)
        out: list[dict[str, Any]] = []
        for record in records:  # in the page's order: the bookmark's order
            for row in by_owner.pop(record.get("id"), ()):
                row.update({column: record.get(column) for column in self.keep})
                out.append(row)
        for rows in by_owner.values():  # naming no record of the page: kept, not joined
            out.extend({**row, **dict.fromkeys(self.keep)} for row in rows)
        return out
