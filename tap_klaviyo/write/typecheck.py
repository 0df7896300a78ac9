"""A fast structural check of records against their JSON schema.

Full JSON Schema validation costs more than the rest of the record path.
Records here come straight from JSON, so checking each value's JSON type
(recursively for objects with declared properties and for array items) is
what decides whether a record is schema-valid; the check is compiled once per
stream into nested lookups.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Union

import msgspec

_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float, Decimal),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list, tuple),
    "null": (type(None),),
}


# Values decoded from JSON have exactly these types: one lookup names the kind.
_KIND_OF: dict[type, str] = {
    str: "string",
    int: "integer",
    float: "number",
    Decimal: "number",
    bool: "boolean",
    dict: "object",
    list: "array",
    type(None): "null",
}


def json_type(value: Any) -> str:
    kind = _KIND_OF.get(type(value))
    if kind is not None:
        return kind
    if isinstance(value, bool):
        return "boolean"
    for name in ("string", "integer", "number", "object", "array"):
        if isinstance(value, _PYTHON_TYPES[name]):
            return name
    return type(value).__name__


def is_date_time(value: str) -> bool:
    # fromisoformat accepts date-only and time-zone-less forms RFC 3339 does not.
    if len(value) < 20 or value[10] not in "Tt ":
        return False
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    return parsed.tzinfo is not None


class Checker:
    """Checks one value against one (compiled) schema; returns a problem or None."""

    def __init__(self, schema: dict[str, Any]) -> None:
        variants = schema.get("anyOf") or schema.get("oneOf")
        self.variants = [Checker(v) for v in variants] if variants else None
        kinds = schema.get("type")
        self.kinds: frozenset[str] | None = (
            frozenset([kinds] if isinstance(kinds, str) else kinds) if kinds else None
        )
        # An integer is also a JSON Schema number.
        self.allowed = (
            self.kinds | {"integer"} if self.kinds and "number" in self.kinds else self.kinds
        )
        self.properties = {
            name: Checker(sub) for name, sub in (schema.get("properties") or {}).items()
        }
        items = schema.get("items")
        self.items = Checker(items) if isinstance(items, dict) and items else None
        self.date_time = schema.get("format") == "date-time"
        # Most properties only constrain the JSON type: those are checked together by
        # one msgspec conversion, the rest through their own checker.
        plain_kinds = {
            name: sub.allowed
            for name, sub in self.properties.items()
            if sub.is_plain and _struct_name(name)
        }
        self.other_properties = {
            name: sub for name, sub in self.properties.items() if name not in plain_kinds
        }
        self.plain_date_times = tuple(n for n in plain_kinds if self.properties[n].date_time)
        self.plain_struct = plain_struct(plain_kinds, frozenset(self.plain_date_times))

    @property
    def is_plain(self) -> bool:
        return (
            self.allowed is not None
            # msgspec reads a Decimal from a string (it takes "52.5" for a number) and
            # takes at most one string-like type in a union: numbers are checked one by one.
            and "number" not in self.allowed
            and self.variants is None
            # msgspec reads RFC 3339 date-times with an offset, fewer forms than
            # is_date_time takes: what it refuses is looked at one by one.
            and (not self.date_time or self.allowed <= {"string", "null"})
            and not self.properties
            and self.items is None
        )

    def __call__(self, value: Any, path: str | tuple = ()) -> Problem | None:
        """The first place ``value`` does not fit, or None. Date-times Klaviyo sent with a
        space for the ``T`` are put in RFC 3339 form on the way (targets check it)."""
        if isinstance(path, str):
            path = tuple(path.split(".")) if path else ()
        if self.variants is not None:
            problems = [variant(value, path) for variant in self.variants]
            if None in problems:
                return None
            return Problem(str(problems[0]), path, json_type(value), variants=True)
        if self.allowed is not None:
            kind = json_type(value)
            if kind not in self.allowed:
                return Problem(
                    f"`{shown(path)}` is {kind}, the schema allows {'/'.join(sorted(self.kinds))}",
                    path,
                    kind,
                )
        if self.date_time and isinstance(value, str) and not is_date_time(value):
            return Problem(
                f"`{shown(path)}` is {value!r}, not a date-time", path, "string", date_time=True
            )
        if self.plain_struct is not None and type(value) is dict:
            # All plain properties at once, in C; on any doubt the loop below
            # finds the property and words the problem.
            try:
                msgspec.convert(value, self.plain_struct)
            except msgspec.ValidationError:
                pass
            else:
                for name in self.plain_date_times:
                    if name in value:
                        rfc3339_member(value, name)
                for name, checker in self.other_properties.items():
                    if name in value:
                        problem = checker.check_member(value, name, path)
                        if problem:
                            return problem
                return None
        if self.properties and isinstance(value, dict):
            for name in list(value):
                checker = self.properties.get(name)
                if checker is not None:
                    problem = checker.check_member(value, name, path)
                    if problem:
                        return problem
        if self.items is not None and isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                problem = self.items(item, (*path, index))
                if problem:
                    return problem
        return None

    def check_member(self, parent: dict[str, Any], name: str, path: tuple) -> Problem | None:
        member = rfc3339_member(parent, name) if self.date_time else parent[name]
        return self(member, (*path, name))


def rfc3339_member(parent: dict[str, Any], name: str) -> Any:
    """``parent[name]``, a date-time Klaviyo sent with a space for the ``T`` put in
    RFC 3339 form on the way (targets check it)."""
    member = parent[name]
    if type(member) is str and member[10:11] == " ":
        member = parent[name] = f"{member[:10]}T{member[11:]}"
    return member


class Problem(str):
    """Where and how a value does not fit, worded for the user (the string) and for
    widening the schema (``path``, the value's JSON ``kind``, whether the place is a
    choice of variants or a date-time)."""

    path: tuple
    kind: str
    variants: bool
    date_time: bool

    def __new__(
        cls, text: str, path: tuple, kind: str, *, variants: bool = False, date_time: bool = False
    ) -> Problem:
        problem = super().__new__(cls, text)
        problem.path, problem.kind = path, kind
        problem.variants, problem.date_time = variants, date_time
        return problem


def shown(path: tuple) -> str:
    """``("location", "lines", 0)`` -> ``location.lines[0]``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


# What each JSON type may be, in msgspec's strict terms (a bool is no integer).
# Numbers arrive as int or Decimal; a float is a number too.
_MSGSPEC_TYPES: dict[str, tuple[Any, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, Decimal),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
    "null": (type(None),),
}


# A date-time with an offset, in msgspec's RFC 3339 reading (with a space or a ``T``).
_DATE_TIME = Annotated[datetime, msgspec.Meta(tz=True)]
_DATE_TIME_TYPES = {**_MSGSPEC_TYPES, "string": (_DATE_TIME,)}


def _struct_name(name: str) -> bool:
    """msgspec takes any field name but those with a backslash, a quote or a control
    character (an attribute Klaviyo sends beyond the spec may have one)."""
    return not any(c in '\\"' or ord(c) < 32 for c in name)


def plain_struct(
    plain_kinds: dict[str, frozenset[str] | None], date_times: frozenset[str] = frozenset()
) -> type | None:
    """A msgspec type that accepts an object exactly when each of these properties,
    if present, has one of its allowed JSON types (those in ``date_times``: a date-time
    string with an offset, where a string is allowed)."""
    fields = []
    rename = {}
    for index, (name, kinds) in enumerate(sorted(plain_kinds.items())):
        if not kinds or not kinds <= _MSGSPEC_TYPES.keys():
            return None
        types = _DATE_TIME_TYPES if name in date_times else _MSGSPEC_TYPES
        members = tuple(dict.fromkeys(t for kind in sorted(kinds) for t in types[kind]))
        field = f"f{index}"
        fields.append((field, Union[members], None))  # noqa: UP007 (built at run time)
        rename[field] = name
    if not fields:
        return None
    return msgspec.defstruct("PlainProperties", fields, rename=rename, gc=False)


def compile_checker(schema: dict[str, Any]) -> Checker:
    return Checker(schema)
