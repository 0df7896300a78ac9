"""Generate every stream's JSON schema from Klaviyo's OpenAPI spec, and what Klaviyo
really sends.

Each schema describes the flattened record: ``id``, the resource's attributes and
``<relationship>_id`` for to-one relationships, plus the columns a stream adds
(parent ids, partition values). Types are the spec's and ``format: date-time`` is kept,
but the spec is not the API (README, "Schemas: what Klaviyo really sends"):
- every property but the primary key allows null, whatever the spec says, at every
  level: Klaviyo sends nulls where the spec declares a plain type;
- ``BEYOND_SPEC`` adds attributes Klaviyo is known to send that the spec leaves out.
Free-form objects stay open. At run time the tap widens a schema further when a record
needs it (tap_klaviyo/write/widen.py).

    python scripts/generate_schemas.py [path/to/stable.json] [--check]

``--check`` writes nothing and exits 1 when a committed schema differs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tap_klaviyo import spec as extract  # noqa: E402
from tap_klaviyo.pairs import RelatedIdsStream  # noqa: E402
from tap_klaviyo.streams import STREAM_TYPES  # noqa: E402
from tap_klaviyo.transport.jsonapi import snake  # noqa: E402

DEFAULT_SPEC = ROOT.parent / "shared" / "klaviyo-openapi" / "stable.json"
SCHEMA_DIR = ROOT / "tap_klaviyo" / "schemas"
# Levels of nesting below a record's columns that keep their properties and items.
MAX_DEPTH = 4
# Attributes Klaviyo sends that its spec leaves out, by resource type, with where each
# was seen (klaviyo_sim/README.md, "Reality layer", quotes the evidence).
BEYOND_SPEC: dict[str, dict[str, tuple[dict[str, Any], str]]] = {
    "profile": {
        "anonymous_id": (
            {"type": ["string", "null"]},
            "live profiles (MeltanoLabs/tap-klaviyo fabc5fd sync log; its PR #160 added it)",
        ),
    },
    "template": {
        "company_id": (
            {"type": ["string", "null"]},
            "Airbyte source-klaviyo's email_templates schema and MeltanoLabs templates.json "
            "(probably a legacy field)",
        ),
    },
}


class SchemaBuilder:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        """Follow $refs and fold allOf, keeping nullable from the referring node."""
        nullable = bool(node.get("nullable"))
        while "$ref" in node:
            node = self.spec["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
            nullable = nullable or bool(node.get("nullable"))
        if "allOf" in node:
            merged: dict[str, Any] = {"type": "object", "properties": {}}
            for part in node["allOf"]:
                part = self.resolve(part)
                for name, prop in part.get("properties", {}).items():
                    if name in merged["properties"]:
                        prop = self.merge(merged["properties"][name], prop)
                    merged["properties"][name] = prop
                nullable = nullable or bool(part.get("nullable"))
            node = merged
        if nullable and not node.get("nullable"):
            node = {**node, "nullable": True}
        return node

    def merge(self, first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
        first, second = self.resolve(first), self.resolve(second)
        if first.get("properties") is not None and second.get("properties") is not None:
            properties = dict(first["properties"])
            for name, prop in second["properties"].items():
                properties[name] = (
                    self.merge(properties[name], prop) if name in properties else prop
                )
            merged = {**first, **second, "properties": properties}
            merged["nullable"] = bool(first.get("nullable") or second.get("nullable"))
            return merged
        return {**first, **second}

    def convert(self, node: dict[str, Any], depth: int = 1) -> dict[str, Any]:
        """An OpenAPI schema as a Singer JSON schema.

        Below ``MAX_DEPTH`` levels only the JSON types are kept: targets store deep
        values as JSON anyway, and the full tree of, say, every flow action
        definition variant made one schema megabytes long, slowing every run's start.
        """
        node = self.resolve(node)
        nullable = bool(node.get("nullable"))
        variants = node.get("oneOf") or node.get("anyOf")
        if depth > MAX_DEPTH:
            return self.kinds_only(node, nullable)
        if variants:
            converted = []
            for variant in variants:
                schema = self.convert(variant, depth)
                if schema not in converted:
                    converted.append(schema)
            result = converted[0] if len(converted) == 1 else {"anyOf": converted}
            return self.nullable(result)
        kind = node.get("type")
        if kind is None and "properties" in node:
            kind = "object"
        if kind is None:
            return {}
        result: dict[str, Any] = {"type": [kind]}
        if kind == "string" and node.get("format") in ("date-time", "date"):
            result["format"] = node["format"]
        elif kind == "object":
            properties = node.get("properties")
            if properties:
                result["properties"] = {
                    name: self.convert(prop, depth + 1) for name, prop in sorted(properties.items())
                }
        elif kind == "array":
            result["items"] = self.convert(node.get("items") or {}, depth + 1)
        return self.nullable(result)

    def kinds_only(self, node: dict[str, Any], nullable: bool) -> dict[str, Any]:
        """The JSON types a scalar node (or any of its variants) can take; {} (anything)
        for containers and unknowns."""
        kinds: set[str] = set()
        pending = [node]
        while pending:
            current = self.resolve(pending.pop())
            nullable = nullable or bool(current.get("nullable"))
            variants = current.get("oneOf") or current.get("anyOf")
            if variants:
                pending.extend(variants)
                continue
            kind = current.get("type") or ("object" if "properties" in current else None)
            if kind is None:
                return {}
            kinds.add(kind)
        if kinds & {"object", "array"}:
            # Open: the SDK's conformer needs `properties` or `items` with a container
            # type, and these values are stored whole anyway.
            return {}
        if "number" in kinds:
            kinds.discard("integer")
        kinds.add("null")
        return {"type": sorted(kinds)}

    @staticmethod
    def nullable(schema: dict[str, Any]) -> dict[str, Any]:
        if "type" in schema:
            types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            return {**schema, "type": [*types, "null"] if "null" not in types else types}
        if "anyOf" in schema:
            return {"anyOf": [*schema["anyOf"], {"type": ["null"]}]}
        return schema

    def resource_item(self, operation: extract.Operation, included: str | None = None):
        """The schema of the operation's resources, or of the ``included`` type's."""
        op = self.spec["paths"][operation.path][operation.method.lower()]
        content = op["responses"]["200"]["content"]
        body = self.resolve(next(iter(content.values()))["schema"])
        if included is None:
            data = self.resolve(body["properties"]["data"])
            return self.resolve(data.get("items", data))
        items = self.resolve(body["properties"]["included"])["items"]
        for variant in map(self.resolve, items.get("oneOf", [items])):
            kind = self.resolve(variant["properties"]["type"])
            if included in (kind.get("enum") or []):
                return variant
        raise SystemExit(f"{operation.path} includes no {included!r} resources")

    def record_schema(self, stream_type: type) -> dict[str, Any]:
        if issubclass(stream_type, RelatedIdsStream):
            return self.finish({key: {"type": ["string"]} for key in stream_type.primary_keys})
        operation = stream_type.spec_operation()
        from_included = getattr(stream_type, "from_included", None)
        item = self.resource_item(operation, from_included and from_included.type)
        properties: dict[str, Any] = {stream_type.id_field: {"type": ["string"]}}
        if from_included is not None:  # the columns its rows take from their record
            owner = self.resolve(self.resource_item(operation)["properties"]["attributes"])
            for name in from_included.keep:
                properties[name] = self.convert(owner["properties"][name])
        attributes = self.resolve(item["properties"].get("attributes", {}))
        for name, prop in sorted(attributes.get("properties", {}).items()):
            properties[name] = self.convert(prop)
        relationships = self.resolve(item["properties"].get("relationships", {}))
        for name, rel in sorted(relationships.get("properties", {}).items()):
            data = self.resolve(self.resolve(rel).get("properties", {}).get("data", {}))
            if data.get("type") == "object" or "properties" in data:
                properties.setdefault(f"{snake(name)}_id", {"type": ["string", "null"]})
        context_columns = getattr(stream_type, "context_columns", None)
        for key in context_columns() if context_columns else ():
            properties.setdefault(key, {"type": ["string"]})
        for partition in stream_type.static_partitions or []:
            for key, value in partition.items():
                kind = "boolean" if isinstance(value, bool) else "string"
                properties.setdefault(key, {"type": [kind]})
        extra = getattr(stream_type, "extra_columns", None)
        for name, column in (extra() if extra else {}).items():
            properties.setdefault(name, column)
        for derived in getattr(stream_type, "derived_columns", ()):
            properties.setdefault(derived.column, derived.schema())
        kind = (self.resolve(item["properties"].get("type", {})).get("enum") or [""])[0]
        for name, (schema, _seen) in BEYOND_SPEC.get(kind, {}).items():
            properties.setdefault(name, schema)
        keys = set(stream_type.primary_keys)
        return self.finish(
            {name: p if name in keys else self.nullable(p) for name, p in properties.items()}
        )

    @staticmethod
    def finish(properties: dict[str, Any]) -> dict[str, Any]:
        return {"type": ["object"], "properties": properties}


# ---- report streams (tap_klaviyo/streams/reporting/) ----------------------------------------
# Their records are not JSON:API resources: each is one grouping (or dimension values) and
# day of a report, with the statistics (measurements) as columns. The columns come from the
# request body's enums in the spec: every statistic the endpoint can compute, every group-by
# dimension of metric aggregates.


def is_report_stream(stream_type: type) -> bool:
    return getattr(stream_type, "rest_method", "GET") == "POST" and hasattr(
        stream_type, "schema_columns"
    )


def report_request_attributes(
    builder: SchemaBuilder, operation: extract.Operation
) -> dict[str, Any]:
    op = builder.spec["paths"][operation.path][operation.method.lower()]
    content = op["requestBody"]["content"]
    body = builder.resolve(next(iter(content.values()))["schema"])
    resource = builder.resolve(body["properties"]["data"])
    attributes = builder.resolve(resource["properties"]["attributes"])
    return {name: builder.resolve(prop) for name, prop in attributes["properties"].items()}


def _enum(attribute: dict[str, Any]) -> list[str]:
    return list((attribute.get("items") or {}).get("enum") or attribute.get("enum") or [])


def report_record_schema(builder: SchemaBuilder, stream_type: Any) -> dict[str, Any]:
    from tap_klaviyo.streams.reporting import dimension_column

    attributes = report_request_attributes(builder, stream_type.spec_operation())
    properties: dict[str, Any] = {}
    number = {"type": ["number", "null"]}
    if "measurements" in attributes:  # metric aggregates
        for name in _enum(attributes["by"]):
            properties[dimension_column(name)] = {"type": ["string", "null"]}
        for name in _enum(attributes["measurements"]):
            properties[name] = dict(number)
    else:
        for name in stream_type.grouping_columns:
            properties[name] = {"type": ["string", "null"]}
        for name in _enum(attributes["statistics"]):
            properties[name] = dict(number)
    properties.update(stream_type.schema_columns())
    return builder.finish(properties)


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def rows_schema(builder: SchemaBuilder, stream_type: Any) -> dict[str, Any]:
    """Streams whose rows are not resources (rows made from a list inside each resource)
    name their columns; every one but the keys allows null."""
    keys = set(stream_type.primary_keys)
    columns = stream_type.schema_columns()
    return builder.finish({n: p if n in keys else builder.nullable(p) for n, p in columns.items()})


def build_all(spec: dict[str, Any]) -> dict[str, str]:
    builder = SchemaBuilder(spec)

    def schema(stream_type: Any) -> dict[str, Any]:
        if is_report_stream(stream_type):
            return report_record_schema(builder, stream_type)
        if getattr(stream_type, "explode", None) is not None:
            return rows_schema(builder, stream_type)
        return builder.record_schema(stream_type)

    return {f"{t.name}.json": render(schema(t)) for t in STREAM_TYPES}


def main(argv: list[str]) -> int:
    check = "--check" in argv
    args = [a for a in argv[1:] if a != "--check"]
    spec_path = Path(args[0]) if args else DEFAULT_SPEC
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    wanted = build_all(spec)
    stale = [
        name
        for name, text in wanted.items()
        if not (SCHEMA_DIR / name).exists() or (SCHEMA_DIR / name).read_text("utf-8") != text
    ]
    if check:
        for name in stale:
            print(f"out of date: tap_klaviyo/schemas/{name}")
        return 1 if stale else 0
    for name in stale:
        (SCHEMA_DIR / name).write_text(wanted[name], encoding="utf-8")
    print(f"{len(wanted)} schemas, {len(stale)} written")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
