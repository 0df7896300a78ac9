"""The rules the simulator enforces, read from the committed spec extract.

Only ``tap_klaviyo/spec/endpoints.json`` is read at run time so the simulator works on a
clone without the 3 MB OpenAPI document.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

# tap_klaviyo sits beside this package in the repository and in site-packages alike; the
# file is read by path so that the simulator never imports the tap.
EXTRACT_PATH = Path(__file__).resolve().parent.parent / "tap_klaviyo" / "spec" / "endpoints.json"

# Endpoints that paginate by cursor but have no page[size]; their descriptions give the size.
_IMPLICIT_PAGE_SIZE = {"get_metrics": 200}
_FALLBACK_PAGE_SIZE = 100


@dataclass(frozen=True)
class FilterRule:
    operators: dict[str, tuple[str, ...]]
    type: str | None
    format: str | None
    enum: tuple[Any, ...] | None

    def shapes_for(self, operator: str) -> list[str]:
        return [shape for shape, ops in self.operators.items() if operator in ops]


@dataclass(frozen=True)
class ConditionalLimit:
    param: str
    value: str
    burst: int
    steady: int


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str
    segments: tuple[str, ...]
    resource_type: str | None
    scopes: frozenset[str]
    burst: int | None
    steady: int | None
    daily: int | None
    conditional: tuple[ConditionalLimit, ...]
    query_params: frozenset[str]
    path_params: tuple[str, ...]
    filter_required: bool
    filters: dict[str, FilterRule]
    sort: tuple[str, ...] | None
    include: tuple[str, ...] | None
    additional_fields: dict[str, tuple[str, ...]]
    page_size_default: int | None
    page_size_max: int | None
    cursor_param: str | None
    # Derived from the path: "collection" (/api/x), "single" (/api/x/{id}),
    # "related" (/api/x/{id}/rel) or "relationship" (/api/x/{id}/relationships/rel).
    kind: str = field(default="collection")
    collection: str = ""
    relation: str | None = None
    # Reporting POSTs: what their JSON body may hold (see scripts/extract_spec.py).
    request_body: dict[str, Any] | None = None

    @property
    def paginated(self) -> bool:
        return self.cursor_param is not None

    @property
    def effective_page_size(self) -> int:
        if self.page_size_default:
            return self.page_size_default
        return _IMPLICIT_PAGE_SIZE.get(self.operation_id, _FALLBACK_PAGE_SIZE)


def _classify(segments: tuple[str, ...]) -> tuple[str, str, str | None]:
    # segments start after "api" (or "client"): ("lists", "{id}", "relationships", "tags")
    collection = segments[0] if segments else ""
    if len(segments) == 1:
        return "collection", collection, None
    if len(segments) == 2:
        return "single", collection, None
    if len(segments) == 3:
        return "related", collection, segments[2]
    if len(segments) == 4 and segments[2] == "relationships":
        return "relationship", collection, segments[3]
    return "other", collection, None


def _operation(operation_id: str, raw: dict[str, Any]) -> Operation:
    parts = tuple(p for p in raw["path"].split("/") if p)
    # parts[0] is "api" or "client"
    kind, collection, relation = _classify(parts[1:])
    limits = raw.get("rate_limit") or {}
    page_size = raw.get("page_size") or {}
    return Operation(
        operation_id=operation_id,
        method=raw["method"],
        path=raw["path"],
        segments=parts,
        resource_type=raw.get("resource_type"),
        scopes=frozenset(raw.get("scopes") or ()),
        burst=limits.get("burst_per_second"),
        steady=limits.get("steady_per_minute"),
        daily=limits.get("daily"),
        conditional=tuple(
            ConditionalLimit(c["param"], c["value"], c["burst"], c["steady"])
            for c in limits.get("conditional") or ()
        ),
        query_params=frozenset(raw.get("query_params") or ()),
        path_params=tuple(raw.get("path_params") or ()),
        filter_required=bool(raw.get("filter_required")),
        filters={
            name: FilterRule(
                operators={k: tuple(v) for k, v in (rule.get("operators") or {}).items()},
                type=rule.get("type"),
                format=rule.get("format"),
                enum=tuple(rule["enum"]) if rule.get("enum") else None,
            )
            for name, rule in (raw.get("filters") or {}).items()
        },
        sort=tuple(raw["sort"]) if raw.get("sort") else None,
        include=tuple(raw["include"]) if raw.get("include") else None,
        additional_fields={k: tuple(v) for k, v in (raw.get("additional_fields") or {}).items()},
        page_size_default=page_size.get("default"),
        page_size_max=page_size.get("max"),
        cursor_param=raw.get("cursor_param"),
        kind=kind,
        collection=collection,
        relation=relation,
        request_body=raw.get("request_body"),
    )


class Spec:
    """Operations from the extract plus path-template routing."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.revision: str = raw["revision"]
        self.operations: dict[str, Operation] = {
            op_id: _operation(op_id, op) for op_id, op in raw["operations"].items()
        }
        self.scopes: frozenset[str] = frozenset(
            scope for op in self.operations.values() for scope in op.scopes
        )
        self._by_length: dict[int, list[Operation]] = {}
        for op in self.operations.values():
            self._by_length.setdefault(len(op.segments), []).append(op)

    def match(self, path: str) -> list[tuple[Operation, dict[str, str]]]:
        """Every operation whose template matches ``path`` (any method), best match first."""
        parts = [p for p in path.split("/") if p]
        found: list[tuple[int, Operation, dict[str, str]]] = []
        for op in self._by_length.get(len(parts), ()):
            params: dict[str, str] = {}
            literal = 0
            for template, actual in zip(op.segments, parts, strict=True):
                if template.startswith("{") and template.endswith("}"):
                    params[template[1:-1]] = actual
                elif template == actual:
                    literal += 1
                else:
                    break
            else:
                found.append((literal, op, params))
        # Prefer literal segments over placeholders: /api/x/relationships beats /api/x/{id}.
        found.sort(key=lambda item: -item[0])
        if found:
            best = found[0][0]
            found = [item for item in found if item[0] == best]
        return [(op, params) for _, op, params in found]


@cache
def load_spec(path: Path = EXTRACT_PATH) -> Spec:
    with path.open(encoding="utf-8") as handle:
        return Spec(json.load(handle))
