"""Klaviyo's ``filter`` query parameter: parsing, validation against the spec, evaluation.

Grammar (https://developers.klaviyo.com/en/docs/filtering_)::

    filter     := expression ("," expression)*
    expression := "and(" filter ")" | operator "(" field ["," value] ")"
    value      := 'string' | "string" | datetime | number | true | false | null | "[" values "]"

Datetimes are unquoted RFC 3339; strings must be quoted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from .spec import FilterRule, Operation

_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|z|[+-]\d{2}:?\d{2})?)?$"
)
_PARTS = re.compile(
    r"^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2})?)(\.\d{1,9})?)?(Z|z|[+-]\d{2}:?\d{2})?$"
)
_PLUS_AS_SPACE = re.compile(r"^\d{4}-\d{2}-\d{2}T[\d:.]+ \d{2}:?\d{2}$")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$")
_NAME = re.compile(r"[A-Za-z0-9_.$\-]+")
_BARE_END = ",)]"

COMPARISONS = ("greater-than", "greater-or-equal", "less-than", "less-or-equal")


class FilterError(ValueError):
    """A filter the API would reject; the message becomes the error's detail."""


@dataclass(frozen=True)
class DateTimeValue:
    text: str
    value: datetime


@dataclass(frozen=True)
class Condition:
    operator: str
    field: str
    # None for "has"; a list for list operators; else a str, bool, int, float,
    # DateTimeValue or None (for a literal null).
    value: Any
    has_value: bool

    def matches(self, values: list[Any]) -> bool:
        op = self.operator
        if op == "has":
            return any(v is not None for v in values)
        target = self.value
        if isinstance(target, list):
            wanted = [_comparable(t) for t in target]
            return any(_comparable(v) in wanted for v in values if v is not None)
        if op == "equals":
            if target is None:
                return not values or all(v is None for v in values)
            want = _comparable(target)
            return any(_comparable(v) == want for v in values)
        if op in COMPARISONS:
            want = _comparable(target)
            for v in values:
                have = _comparable(v)
                if have is None or want is None:
                    continue
                try:
                    if _compare(op, have, want):
                        return True
                except TypeError:
                    continue
            return False
        if op in ("contains", "starts-with", "ends-with"):
            for v in values:
                if not isinstance(v, str) or not isinstance(target, str):
                    continue
                if (
                    (op == "contains" and target in v)
                    or (op == "starts-with" and v.startswith(target))
                    or (op == "ends-with" and v.endswith(target))
                ):
                    return True
            return False
        return False


def _compare(op: str, have: Any, want: Any) -> bool:
    if op == "greater-than":
        return have > want
    if op == "greater-or-equal":
        return have >= want
    if op == "less-than":
        return have < want
    return have <= want


@lru_cache(maxsize=65536)
def parse_datetime(text: str) -> datetime | None:
    if not isinstance(text, str) or not _DATETIME.match(text):
        return None
    # Normalised by hand because datetime.fromisoformat() before 3.11 rejects "Z",
    # "+0000" offsets and fractions that are not 3 or 6 digits long.
    match = _PARTS.match(text)
    if match is None:
        return None
    day, clock, fraction, offset = match.groups()
    normal = day
    if clock:
        normal += "T" + (clock if clock.count(":") == 2 else clock + ":00")
        if fraction:
            normal += "." + (fraction[1:] + "000000")[:6]
    if offset and offset not in ("Z", "z"):
        normal += offset if ":" in offset else f"{offset[:3]}:{offset[3:]}"
    try:
        value = datetime.fromisoformat(normal)
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value


def _comparable(value: Any) -> Any:
    """Datetimes compare as instants whatever their offset or precision."""
    if isinstance(value, DateTimeValue):
        return value.value
    if isinstance(value, str):
        parsed = parse_datetime(value)
        return parsed if parsed is not None else value
    if isinstance(value, bool):
        return value
    return value


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, why: str) -> FilterError:
        return FilterError(
            f"Invalid filter provided: {why} at position {self.pos} in {self.text!r}"
        )

    def peek(self) -> str:
        # Whitespace between tokens is insignificant.
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expect(self, char: str) -> None:
        if self.peek() != char:
            found = self.peek() or "end of input"
            raise self.fail(f"expected {char!r}, found {found!r}")
        self.pos += 1

    def name(self) -> str:
        self.peek()
        match = _NAME.match(self.text, self.pos)
        if not match:
            raise self.fail("expected a name")
        self.pos = match.end()
        return match.group(0)

    def expressions(self) -> list[Condition]:
        out = self.expression()
        while self.peek() == ",":
            self.pos += 1
            out += self.expression()
        return out

    def expression(self) -> list[Condition]:
        operator = self.name()
        self.expect("(")
        if operator == "and":
            inner = self.expressions()
            self.expect(")")
            return inner
        if operator in ("or", "not"):
            raise FilterError(f"Invalid filter provided: '{operator}' is not supported here")
        field = self.name()
        if self.peek() == ")":
            self.pos += 1
            return [Condition(operator, field, None, has_value=False)]
        self.expect(",")
        value = self.value(top=True)
        self.expect(")")
        return [Condition(operator, field, value, has_value=True)]

    def value(self, top: bool) -> Any:
        char = self.peek()
        if char in ("'", '"'):
            return self.string(char)
        if char == "[":
            if not top:
                raise self.fail("nested lists are not allowed")
            self.pos += 1
            items: list[Any] = []
            if self.peek() == "]":
                self.pos += 1
                return items
            while True:
                items.append(self.value(top=False))
                if self.peek() == ",":
                    self.pos += 1
                    continue
                self.expect("]")
                return items
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in _BARE_END:
            self.pos += 1
        token = self.text[start : self.pos].strip()
        if not token:
            raise self.fail("missing value")
        if token == "true":
            return True
        if token == "false":
            return False
        if token == "null":
            return None
        if _NUMBER.match(token):
            number = float(token)
            return int(token) if re.fullmatch(r"-?\d+", token) else number
        parsed = parse_datetime(token)
        if parsed is not None:
            return DateTimeValue(token, parsed)
        if _PLUS_AS_SPACE.match(token):
            raise FilterError(
                f"Invalid filter provided: {token!r} is not a valid datetime; a '+' in a URL "
                "query string means a space, so encode the offset's '+' as %2B"
            )
        raise FilterError(
            f"Invalid filter provided: value {token!r} must be quoted (strings are 'quoted'; "
            "only datetimes, numbers, booleans and null are unquoted)"
        )

    def string(self, quote: str) -> str:
        self.pos += 1
        out: list[str] = []
        while True:
            if self.pos >= len(self.text):
                raise self.fail("unterminated string")
            char = self.text[self.pos]
            if char == "\\" and self.pos + 1 < len(self.text):
                out.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            self.pos += 1
            if char == quote:
                return "".join(out)
            out.append(char)


def parse_filter(text: str) -> list[Condition]:
    if not text.strip():
        raise FilterError("Invalid filter provided: empty filter")
    parser = _Parser(text)
    conditions = parser.expressions()
    if parser.pos != len(text):
        raise parser.fail("unexpected trailing characters")
    return conditions


def _check_value(field: str, operator: str, rule: FilterRule, value: Any) -> None:
    kind = rule.type
    if value is None:
        if operator != "equals":
            raise FilterError(f"'{operator}' operator for field '{field}' does not accept null")
        return
    if rule.format == "date-time":
        if isinstance(value, str) and parse_datetime(value) is not None:
            raise FilterError(
                f"Invalid value for field '{field}': datetimes must not be quoted, "
                f"use {operator}({field},{value})"
            )
        if not isinstance(value, DateTimeValue):
            raise FilterError(f"Invalid value for field '{field}': expected a datetime")
        return
    if kind == "string":
        if not isinstance(value, str):
            raise FilterError(f"Invalid value for field '{field}': expected a quoted string")
        if rule.enum is not None and value not in rule.enum:
            allowed = ", ".join(repr(e) for e in rule.enum)
            raise FilterError(
                f"Invalid value {value!r} for field '{field}': must be one of {allowed}"
            )
        return
    if kind == "boolean":
        if not isinstance(value, bool):
            raise FilterError(f"Invalid value for field '{field}': expected true or false")
        return
    if kind in ("number", "integer"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise FilterError(f"Invalid value for field '{field}': expected a number")
        if kind == "integer" and not isinstance(value, int):
            raise FilterError(f"Invalid value for field '{field}': expected an integer")
        return


def validate(op: Operation, conditions: list[Condition]) -> None:
    """Raise FilterError unless every condition is allowed by the operation's spec."""
    for cond in conditions:
        rule = op.filters.get(cond.field)
        if rule is None:
            raise FilterError(f"'{cond.field}' is not a valid field for this filter")
        if not cond.has_value:
            shape = "none"
        elif isinstance(cond.value, list):
            shape = "list"
        else:
            shape = "single"
        allowed = rule.operators.get(shape, ())
        if cond.operator not in allowed:
            other = rule.shapes_for(cond.operator)
            if other:
                needs = {"none": "no value", "list": "a list value", "single": "a single value"}
                raise FilterError(
                    f"'{cond.operator}' operator for field '{cond.field}' requires "
                    f"{needs[other[0]]}"
                )
            raise FilterError(
                f"'{cond.operator}' operator for field '{cond.field}' is not supported"
            )
        if shape == "list":
            if not cond.value:
                raise FilterError(f"Invalid value for field '{cond.field}': empty list")
            for item in cond.value:
                _check_value(cond.field, cond.operator, rule, item)
        elif shape == "single":
            _check_value(cond.field, cond.operator, rule, cond.value)
