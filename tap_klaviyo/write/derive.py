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


@dataclass(frozen=True)
class _Compiled:
    """A derived column whose paths are read from ``root`` (a nested object of the
    record, or the record itself when None), relative to it; its conditions are read
    from the record, as declared."""

    root: str | None
    paths: tuple[Path, ...]
    derived: Derived


def _compile(derived: Derived) -> _Compiled:
    roots = {path[0] for path in derived.paths}
    if len(roots) == 1 and min(map(len, derived.paths)) > 1:
        root = roots.pop()
        return _Compiled(root, tuple(p[1:] for p in derived.paths), derived)
    return _Compiled(None, derived.paths, derived)


class Deriver:
    """Adds a stream's derived columns to each record, in place.

    Most events are caused by nothing: their properties hold none of the keys the
    columns read. The columns whose paths all start in one nested object are grouped
    by it, and when it holds none of the keys their paths take next, each of them is
    null for the cost of one set test."""

    def __init__(self, columns: tuple[Derived, ...], maps: Mapping[str, Mapping]) -> None:
        self.columns = columns
        self.maps = maps
        groups: dict[str | None, list[_Compiled]] = {}
        for derived in columns:
            compiled = _compile(derived)
            groups.setdefault(compiled.root, []).append(compiled)
        self._groups = [
            (root, frozenset(path[0] for c in group for path in c.paths), tuple(group))
            for root, group in groups.items()
        ]

    def __call__(self, record: dict[str, Any]) -> dict[str, Any]:
        for root, keys, group in self._groups:
            if root is None:
                node: Any = record
            else:
                node = record.get(root)
                if type(node) is not dict or node.keys().isdisjoint(keys):
                    for compiled in group:
                        record.setdefault(compiled.derived.column, None)
                    continue
            for compiled in group:
                record.setdefault(compiled.derived.column, self._value(record, node, compiled))
        return record

    def _value(self, record: dict[str, Any], node: dict[str, Any], column: _Compiled) -> Any:
        derived = column.derived
        if derived.when is not None and value_at(record, derived.when) in (None, ""):
            return None
        if derived.unless is not None and value_at(record, derived.unless) not in (None, ""):
            return None
        value = None
        for path in column.paths:
            value = node.get(path[0]) if len(path) == 1 else value_at(node, path)
            if value not in (None, ""):
                break
        if derived.via is not None and value is not None:
            value = self.maps.get(derived.via, {}).get(value) if type(value) is str else None
        if value in ("", None):
            return None
        if derived.kind == "string" and not isinstance(value, str):
            return str(value)
        return value


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
