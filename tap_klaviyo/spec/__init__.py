"""Rules from Klaviyo's OpenAPI spec, as extracted by ``scripts/extract_spec.py``."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

_PATH_PARAM = re.compile(r"\{[^}]+\}")


@dataclass(frozen=True)
class Operation:
    """One API operation's rules: filters, sort keys, page sizes, limits and scopes."""

    operation_id: str
    method: str
    path: str
    resource_type: str | None
    scopes: tuple[str, ...]
    filters: dict[str, dict[str, Any]]
    sort: tuple[str, ...]
    include: tuple[str, ...]
    additional_fields: dict[str, list[str]]
    page_size_max: int | None
    burst_per_second: int | None
    steady_per_minute: int | None
    daily: int | None
    conditional_limits: tuple[dict[str, Any], ...]
    query_params: tuple[str, ...]

    def operators(self, field: str) -> tuple[str, ...]:
        """The single-value operators the endpoint accepts on ``field``."""
        rule = self.filters.get(field) or {}
        return tuple(rule.get("operators", {}).get("single", ()))

    def can_sort(self, field: str) -> bool:
        return field in self.sort


@cache
def _extract() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("endpoints.json").read_text("utf-8")
    return json.loads(text)


def revision() -> str:
    return _extract()["revision"]


@cache
def operations() -> dict[str, Operation]:
    result = {}
    for op_id, raw in _extract()["operations"].items():
        limit = raw["rate_limit"]
        result[op_id] = Operation(
            operation_id=op_id,
            method=raw["method"],
            path=raw["path"],
            resource_type=raw["resource_type"],
            scopes=tuple(raw["scopes"]),
            filters=raw["filters"],
            sort=tuple(raw["sort"] or ()),
            include=tuple(raw["include"] or ()),
            additional_fields=raw["additional_fields"],
            page_size_max=(raw["page_size"] or {}).get("max"),
            burst_per_second=limit["burst_per_second"],
            steady_per_minute=limit["steady_per_minute"],
            daily=limit["daily"],
            conditional_limits=tuple(limit["conditional"]),
            query_params=tuple(raw["query_params"]),
        )
    return result


def template(path: str) -> str:
    """``/api/lists/{list_id}/profiles`` -> ``/api/lists/{}/profiles``."""
    return _PATH_PARAM.sub("{}", path)


@cache
def operation_for(method: str, path: str) -> Operation:
    """The spec operation behind a stream path, whatever its placeholders are called."""
    wanted = template(path)
    for op in operations().values():
        if op.method == method.upper() and template(op.path) == wanted:
            return op
    raise KeyError(f"no {method} {path} operation in the Klaviyo spec extract")


def request_body(operation_id: str) -> dict[str, Any]:
    """What the body of a reporting POST may hold (see scripts/extract_spec.py):
    ``type``, ``required``, ``attributes`` (type, enum, default per attribute) and
    ``rules`` (group-by defaults, interval and timeframe limits, filter operators)."""
    body = _extract()["operations"][operation_id].get("request_body")
    if body is None:
        raise KeyError(f"{operation_id} has no request body in the spec extract")
    return body
