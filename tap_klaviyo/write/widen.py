"""Schemas that follow what Klaviyo really sends.

Klaviyo sends attributes its spec leaves out and JSON types its spec does not allow.
Rather than drop them or stop the run, the stream's schema widens: an attribute the
schema lacks becomes a nullable property typed from its value, a value of another JSON
type adds that type, a string that is not a date-time lifts the date-time format. The
stream sends a new SCHEMA before the first record that needs it, and warns once per
property, so targets add or widen the column.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tap_klaviyo.dates import is_canonical, parse_datetime, utc_iso
from tap_klaviyo.errors import KlaviyoError
from tap_klaviyo.write.typecheck import Problem, compile_checker, json_type, shown

# More changes than this for one record means a widening that changes nothing.
_MAX_WIDENINGS_PER_RECORD = 100

_INFERRED: dict[type, str] = {
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
    Decimal: "number",
    dict: "object",
    list: "array",
}


def inferred(value: Any) -> dict[str, Any]:
    """A nullable schema for ``value``'s JSON type; a null is taken for a string (the
    usual case: the attribute is empty in this record)."""
    kind = _INFERRED.get(type(value)) or (json_type(value) if value is not None else "string")
    schema: dict[str, Any] = {"type": [kind, "null"]}
    if kind == "array":
        schema["items"] = {}
    return schema


@dataclass(frozen=True)
class Widening:
    """One change to a stream's schema: a property added at ``path`` (``added``), a JSON
    ``kind`` allowed at ``path``, or its date-time format lifted."""

    path: tuple
    kind: str = ""
    added: dict[str, Any] | None = None
    variants: bool = False
    date_time: bool = False

    @classmethod
    def for_problem(cls, problem: Problem) -> Widening:
        return cls(
            problem.path, problem.kind, variants=problem.variants, date_time=problem.date_time
        )

    @classmethod
    def new_property(cls, name: str, value: Any) -> Widening:
        return cls((name,), added=inferred(value))

    def describe(self, schema: dict[str, Any]) -> str:
        where = shown(self.path)
        node = _node(schema, self.path) or {}
        now = "/".join(node.get("type", [])) if isinstance(node.get("type"), list) else "any type"
        if self.added is not None:
            return f"Klaviyo sent `{where}`, which the schema lacks: added as {now}"
        if self.date_time:
            return f"`{where}` came as a string that is not a date-time: it is a plain string now"
        return f"`{where}` came as {self.kind}, which the schema did not allow: now {now}"


def apply(schema: dict[str, Any], widening: Widening) -> bool:
    """Change ``schema`` in place; False when it already allowed what ``widening`` asks."""
    if widening.added is not None:
        parent = _node(schema, widening.path[:-1])
        if parent is None:
            return False
        properties = parent.setdefault("properties", {})
        name = widening.path[-1]
        current = properties.get(name)
        if current is None:
            properties[name] = dict(widening.added)
            return True
        return _allow(current, widening.added["type"][0])
    node = _node(schema, widening.path)
    if node is None:
        return False
    if widening.date_time:
        return node.pop("format", None) is not None
    if widening.variants:
        variants = node.get("anyOf") or node.get("oneOf") or []
        if any(_allows(v, widening.kind) for v in variants):
            return False
        variants.append(inferred_kind(widening.kind))
        return True
    return _allow(node, widening.kind)


def inferred_kind(kind: str) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": [kind]}
    if kind == "array":
        schema["items"] = {}
    return schema


def _allows(node: dict[str, Any], kind: str) -> bool:
    kinds = node.get("type")
    if kinds is None:
        return "anyOf" not in node and "oneOf" not in node  # {} takes anything
    kinds = [kinds] if isinstance(kinds, str) else kinds
    return kind in kinds or (kind == "integer" and "number" in kinds)


def _allow(node: dict[str, Any], kind: str) -> bool:
    if _allows(node, kind):
        return False
    kinds = node.get("type")
    node["type"] = [*([kinds] if isinstance(kinds, str) else kinds), kind]
    if kind == "array":
        node.setdefault("items", {})
    return True


def _node(schema: dict[str, Any], path: tuple) -> dict[str, Any] | None:
    node: dict[str, Any] | None = schema
    for part in path:
        if node is None:
            return None
        if isinstance(part, int):
            node = node.get("items")
        else:
            node = (node.get("properties") or {}).get(part)
    return node


class RecordCheck:
    """Makes a record fit its stream's schema, widening the schema where Klaviyo sent
    more than it allows (``on_widen`` gets the new schema and the changes), and puts
    the replication key in its one canonical form (the SDK compares bookmarks as
    strings; a value that is no date-time is left for the bookmark to skip)."""

    def __init__(
        self,
        stream: str,
        schema: dict[str, Any],
        id_field: str,
        key: str | None,
        on_widen: Callable[[dict[str, Any], list[Widening]], None] = lambda schema, changes: None,
        # The stream's primary keys: a target keys its table on their types, so a value
        # that does not fit them stops the stream instead of widening them.
        primary_keys: tuple[str, ...] = (),
    ) -> None:
        self.stream = stream
        self.primary_keys = frozenset(primary_keys)
        self.schema = schema
        self.checker = compile_checker(schema)
        self.names = frozenset(schema.get("properties", {}))
        self.id_field = id_field
        self.key = key
        self.on_widen = on_widen

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        if not row.keys() <= self.names or self.checker(row) is not None:
            self._widen(row)
        key = self.key
        value = row.get(key) if key else None
        if isinstance(value, str) and not is_canonical(value):
            # A value that is no date-time stays as sent; it does not move the bookmark.
            with contextlib.suppress(ValueError):
                row[key] = utc_iso(parse_datetime(value))  # type: ignore[index]
        return row

    def _widen(self, row: dict[str, Any]) -> None:
        schema = copy.deepcopy(self.schema)
        changes = [Widening.new_property(n, row[n]) for n in sorted(row.keys() - self.names)]
        for change in changes:
            apply(schema, change)
        checker = compile_checker(schema) if changes else self.checker
        for _ in range(_MAX_WIDENINGS_PER_RECORD):
            problem = checker(row)
            if problem is None:
                break
            change = Widening.for_problem(problem)
            keyed = bool(problem.path) and problem.path[0] in self.primary_keys
            if keyed or not apply(schema, change):
                raise KlaviyoError(
                    f"Stream '{self.stream}': record {row.get(self.id_field)!r} does not fit the "
                    f"schema: {problem}."
                )
            changes.append(change)
            checker = compile_checker(schema)
        self.adopt(schema, checker)
        self.on_widen(schema, changes)

    def adopt(self, schema: dict[str, Any], checker: Any = None) -> None:
        self.schema = schema
        self.checker = checker or compile_checker(schema)
        self.names = frozenset(schema.get("properties", {}))


class EvolvingSchema:
    """One stream's schema as it widens during a run. Changes made while records are
    checked (here, or in a worker process rendering pages) are kept until the records
    that need them are written; ``announce`` then sends one SCHEMA with every change
    so far and warns once per property."""

    def __init__(
        self,
        stream: str,
        schema: dict[str, Any],
        *,
        install: Callable[[dict[str, Any]], None],
        send: Callable[[dict[str, Any]], None],
        logger: logging.Logger,
    ) -> None:
        self.stream = stream
        self.schema = schema
        self._install = install
        self._send = send
        self._logger = logger
        self._version = self._sent = 0
        self._pending: list[Widening] = []
        self._warned: set[tuple] = set()

    def widened(self, schema: dict[str, Any], changes: list[Widening]) -> None:
        """A record check widened the schema (``RecordCheck.on_widen``)."""
        self.schema = schema
        self._version += 1
        self._pending.extend(changes)
        self._install(schema)

    def drain(self) -> list[Widening]:
        """The changes since the last drain, for the page whose records needed them."""
        changes, self._pending = self._pending, []
        return changes

    def announce_pending(self) -> None:
        """``announce`` the changes made in this process, if any (once per record)."""
        if self._pending or self._version != self._sent:
            self.announce(self.drain())

    def announce(self, changes: list[Widening]) -> None:
        """Before writing records that need ``changes`` (made here or in a worker
        process): adopt them and send the schema, if it changed since the last SCHEMA."""
        foreign = copy.deepcopy(self.schema)
        if any([apply(foreign, change) for change in changes]):
            self.widened(foreign, [])
        if self._version != self._sent:
            self._sent = self._version
            self._send(self.schema)
        for change in changes:
            if change.path not in self._warned:
                self._warned.add(change.path)
                self._logger.warning(
                    "Stream '%s': %s (a new SCHEMA message says so)",
                    self.stream,
                    change.describe(self.schema),
                )
