"""Extract the rules tap-klaviyo and its simulator need from Klaviyo's OpenAPI spec.

The full spec is 3 MB and lives outside the repo (../shared/klaviyo-openapi).
This script keeps a compact, committed extract in ``tap_klaviyo/spec/endpoints.json``
so a clone without the spec still builds and tests. Re-run after bumping the
revision:

    python scripts/extract_spec.py [path/to/stable.json]
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPEC = ROOT.parent / "shared" / "klaviyo-openapi" / "stable.json"
OUTPUT = ROOT / "tap_klaviyo" / "spec" / "endpoints.json"

# POST operations that read data (reporting); every GET operation is read-only already.
READ_ONLY_POSTS = {
    "query_metric_aggregates",
    "query_campaign_values",
    "query_flow_values",
    "query_flow_series",
    "query_form_values",
    "query_form_series",
    "query_segment_values",
    "query_segment_series",
}

_RATE = re.compile(r"^(\d+)/([smd])$")
# Descriptions carry the lower limits for some parameter values, e.g.
# "Rate limits when using the `additional-fields[profile]=predictive_analytics` ..."
_CONDITIONAL_LIMIT = re.compile(
    r"Rate limits when using the `([^`=]+)=([^`]+)`[^<]*(?:<br>)+"
    r"Burst: `(\d+)/s`<br>Steady: `(\d+)/m`",
)


def parse_rate(value: str | None) -> int | None:
    if not value:
        return None
    match = _RATE.match(value)
    if not match:
        raise ValueError(f"unexpected rate limit {value!r}")
    return int(match.group(1))


def resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = spec["components"]["schemas"][name]
    return node


def resource_type(spec: dict[str, Any], op: dict[str, Any]) -> str | None:
    """The JSON:API ``type`` of the items the operation returns."""
    content = op.get("responses", {}).get("200", {}).get("content", {})
    schema = next(iter(content.values()), {}).get("schema")
    if not schema:
        return None
    data = resolve(spec, schema).get("properties", {}).get("data")
    if not data:
        return None
    data = resolve(spec, data)
    item = resolve(spec, data.get("items", data))
    type_node = item.get("properties", {}).get("type")
    if not type_node:
        return None
    enum = resolve(spec, type_node).get("enum") or []
    return enum[0] if enum else None


def extract_operation(
    spec: dict[str, Any], method: str, path: str, op: dict[str, Any]
) -> dict[str, Any]:
    params = {p["name"]: p for p in op.get("parameters", [])}
    page_size = params.get("page[size]", {}).get("schema")
    sort = params.get("sort", {}).get("schema", {}).get("enum")
    include = params.get("include", {}).get("schema", {}).get("items", {}).get("enum")
    additional = {
        name[len("additional-fields[") : -1]: p["schema"].get("items", {}).get("enum", [])
        for name, p in params.items()
        if name.startswith("additional-fields[")
    }
    filters = {}
    for field, rule in (op.get("x-klaviyo-filters") or {}).items():
        value = rule.get("value") or {}
        filters[field] = {
            "operators": rule.get("operators", {}),
            "type": value.get("type"),
            "format": value.get("format"),
            "enum": value.get("enum"),
        }
    limits = op.get("x-klaviyo-ratelimit") or {}
    conditional = [
        {
            "param": m.group(1),
            "value": m.group(2),
            "burst": int(m.group(3)),
            "steady": int(m.group(4)),
        }
        for m in _CONDITIONAL_LIMIT.finditer(op.get("description", ""))
    ]
    return {
        "method": method.upper(),
        "path": path,
        "resource_type": resource_type(spec, op),
        "scopes": op.get("x-klaviyo-scopes") or [],
        "rate_limit": {
            "burst_per_second": parse_rate(limits.get("burst")),
            "steady_per_minute": parse_rate(limits.get("steady")),
            "daily": parse_rate(limits.get("daily")),
            "conditional": conditional,
        },
        "query_params": sorted(n for n, p in params.items() if p.get("in") == "query"),
        "path_params": sorted(n for n, p in params.items() if p.get("in") == "path"),
        "filter_required": bool(params.get("filter", {}).get("required")),
        "filters": filters,
        "sort": sort,
        "include": include,
        "additional_fields": additional,
        "page_size": (
            {"default": page_size.get("default"), "max": page_size.get("maximum")}
            if page_size
            else None
        ),
        "cursor_param": (
            "page[cursor]"
            if "page[cursor]" in params
            else ("page_cursor" if "page_cursor" in params else None)
        ),
    }


# ---- request bodies of the reporting POSTs ------------------------------------------
# The body rules the spec states only in prose are read with these patterns; a pattern
# that stops matching fails the extract instead of silently dropping a rule.
_GROUP_BY_DEFAULT = re.compile(r"If not passed in, the data will be grouped by ([\w, ]+)\.")
_GROUP_BY_REQUIRED = re.compile(r"The following group by attributes are required: ([\w, ]+)")
_GROUP_BY_PREREQUISITE = re.compile(r"The prerequisites for (\w+) is ([\w, ]+)")
_INTERVAL_LIMIT = re.compile(
    r"If (\w+) is used, the timeframe cannot be longer than (\d+) (days|weeks)"
)
_TIMEFRAME_MAX = re.compile(r"Max length: (\d+) year")
_DATA_STARTS = re.compile(r"Data is unavailable before (\w+) (\d+)\w*, (\d{4})")
_FILTER_GROUP = re.compile(
    r"(?:Scalar|List) attributes \(([\w, ]+)\): Supported operators: ([\w, -]+)\."
)
_FILTER_ALLOWED = re.compile(
    r"Allowed filters are ([\w, ]+)\.\s*Allowed operators are ([\w, -]+)\."
)
_FILTER_MAX_LIST = re.compile(r"Max of (\d+) \w+ per (?:list|ANY) filter")
_FILTER_VALUES = re.compile(r"When filtering on (\w+), allowed values are ([\w, -]+)\.")
_MONTHS = {
    name: number
    for number, name in enumerate(
        (
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ),
        start=1,
    )
}


def _words(text: str) -> list[str]:
    return [word.strip() for word in text.split(",") if word.strip()]


def _must(pattern: re.Pattern[str], text: str, what: str) -> re.Match[str]:
    match = pattern.search(text)
    if not match:
        raise ValueError(f"the spec no longer states {what} in the words this script reads")
    return match


def extract_request_body(spec: dict[str, Any], op: dict[str, Any]) -> dict[str, Any]:
    """What a reporting POST body may hold: attributes, enums and the prose rules."""
    content = op["requestBody"]["content"]
    body = resolve(spec, next(iter(content.values()))["schema"])
    resource = resolve(spec, body["properties"]["data"])
    type_enum = resolve(spec, resource["properties"]["type"]).get("enum") or []
    attributes = resolve(spec, resource["properties"]["attributes"])
    fields: dict[str, Any] = {}
    rules: dict[str, Any] = {}
    for name, prop in attributes.get("properties", {}).items():
        prop = resolve(spec, prop)
        items = resolve(spec, prop.get("items", {})) if prop.get("type") == "array" else {}
        fields[name] = {
            "type": prop.get("type") or ("object" if "oneOf" in prop else None),
            "enum": items.get("enum") or prop.get("enum"),
            "nullable": bool(prop.get("nullable")),
            "default": prop.get("default"),
        }
        text = prop.get("description", "")
        if name == "group_by":
            rules["group_by_default"] = _words(
                _must(_GROUP_BY_DEFAULT, text, "the default group-by").group(1)
            )
            required = _GROUP_BY_REQUIRED.search(text)
            rules["group_by_required"] = _words(required.group(1)) if required else []
            rules["group_by_prerequisites"] = {
                m.group(1): _words(m.group(2)) for m in _GROUP_BY_PREREQUISITE.finditer(text)
            }
        elif name == "interval" and "timeframe cannot be longer" in text:
            rules["interval_max_days"] = {
                m.group(1): int(m.group(2)) * (7 if m.group(3) == "weeks" else 1)
                for m in _INTERVAL_LIMIT.finditer(text)
            }
        elif name == "timeframe":
            rules["timeframe_max_years"] = int(
                _must(_TIMEFRAME_MAX, text, "the longest timeframe").group(1)
            )
            starts = _DATA_STARTS.search(text)
            if starts:
                month = _MONTHS[starts.group(1)]
                day, year = int(starts.group(2)), int(starts.group(3))
                rules["data_starts"] = f"{year:04d}-{month:02d}-{day:02d}"
            timeframes = [resolve(spec, v) for v in prop.get("oneOf", [])]
            keys = [t["properties"]["key"] for t in timeframes if "key" in t.get("properties", {})]
            rules["timeframe_keys"] = resolve(spec, keys[0]).get("enum", []) if keys else []
        elif name == "filter" and prop.get("type") == "string":
            operators: dict[str, list[str]] = {}
            for match in _FILTER_GROUP.finditer(text):
                for attribute in _words(match.group(1)):
                    operators[attribute] = _words(match.group(2))
            for match in _FILTER_ALLOWED.finditer(text):
                for attribute in _words(match.group(1)):
                    operators[attribute] = _words(match.group(2))
            if not operators:
                raise ValueError("the spec no longer lists the report filter attributes")
            rules["filter_operators"] = operators
            most = _FILTER_MAX_LIST.search(text)
            rules["filter_max_list"] = int(most.group(1)) if most else None
            rules["filter_values"] = {
                m.group(1): _words(m.group(2)) for m in _FILTER_VALUES.finditer(text)
            }
    return {
        "type": type_enum[0] if type_enum else None,
        "required": sorted(attributes.get("required", [])),
        "attributes": fields,
        "rules": rules,
    }


def extract(spec: dict[str, Any]) -> dict[str, Any]:
    operations = {}
    for path, item in sorted(spec["paths"].items()):
        for method, op in item.items():
            if method == "get" or op.get("operationId") in READ_ONLY_POSTS:
                operations[op["operationId"]] = extract_operation(spec, method, path, op)
                if method == "post":
                    operations[op["operationId"]]["request_body"] = extract_request_body(spec, op)
    return {
        "revision": spec["info"]["version"],
        "source": "klaviyo/openapi openapi/stable.json",
        "operations": operations,
    }


def main(argv: list[str]) -> int:
    spec_path = Path(argv[1]) if len(argv) > 1 else DEFAULT_SPEC
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(extract(spec), indent=1, sort_keys=True) + "\n", "utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)} ({len(extract(spec)['operations'])} operations)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
