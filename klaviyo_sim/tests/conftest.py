"""Shared by the simulator's tests: a running simulator, a session with its key, helpers."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from klaviyo_sim import KlaviyoSimulator
from klaviyo_sim.clock import VirtualClock

REVISION = "2026-07-15"


def headers_for(key: str, revision: str | None = REVISION) -> dict[str, str]:
    out = {"Authorization": f"Klaviyo-API-Key {key}", "Accept": "application/vnd.api+json"}
    if revision is not None:
        out["revision"] = revision
    return out


@pytest.fixture(scope="module")
def sim() -> Iterator[KlaviyoSimulator]:
    """Shared by a module's tests (hypothesis runs its examples on it too); ``_clean``
    clears faults and rate-limit windows after each test."""
    with KlaviyoSimulator(seed=0) as running:
        yield running


@pytest.fixture(autouse=True)
def _clean(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "sim" in request.fixturenames:
        shared: KlaviyoSimulator = request.getfixturevalue("sim")
        shared.faults.clear()
        shared.reset_rate_limits()


@pytest.fixture
def clock() -> VirtualClock:
    """For ``KlaviyoSimulator(clock=...)``: rate-limit windows pass without waiting."""
    return VirtualClock()


@pytest.fixture
def http(sim: KlaviyoSimulator) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers.update(headers_for(sim.api_key))
        yield session


def get(http: requests.Session, sim: KlaviyoSimulator, path: str, **params: Any) -> Any:
    return http.get(sim.url + path, params=params, timeout=5)


def error_of(response: requests.Response) -> dict[str, Any]:
    errors = response.json()["errors"]
    assert len(errors) == 1
    error = errors[0]
    assert {"id", "status", "code", "title", "detail"} <= set(error)
    assert error["status"] == response.status_code
    return error


def walk(http: requests.Session, url: str, params: dict[str, str]) -> list[dict[str, Any]]:
    """Every page of a collection, following links.next as the API hands it out."""
    pages = []
    response = http.get(url, params=params, timeout=5)
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body)
        next_url = body["links"].get("next")
        if not next_url:
            return pages
        response = http.get(next_url, timeout=5)


def ids_of(pages: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for page in pages for item in page["data"]]


# The full OpenAPI document, next to the repository (see scripts/extract_spec.py).
FULL_SPEC = Path(__file__).resolve().parents[3] / "shared" / "klaviyo-openapi" / "stable.json"


def _strict_schemas(spec: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI 3.0 components as JSON Schema, closed: undeclared attributes are errors."""
    components = spec["components"]["schemas"]

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = components[node["$ref"].rsplit("/", 1)[-1]]
        return node

    def merge(into: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
        out = dict(into)
        for key, value in extra.items():
            if key == "properties":
                props = dict(out.get("properties", {}))
                for name, sub in value.items():
                    props[name] = {"allOf": [props[name], sub]} if name in props else sub
                out["properties"] = props
            elif key == "required":
                out["required"] = [*out.get("required", []), *value]
            else:
                out.setdefault(key, value)
        return out

    def flatten(node: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in node.items() if k != "allOf"}
        for member in node["allOf"]:
            member = resolve(member)
            out = merge(out, flatten(member) if "allOf" in member else member)
        return out

    def convert(node: Any) -> Any:
        if isinstance(node, list):
            return [convert(n) for n in node]
        if not isinstance(node, dict):
            return node
        if "allOf" in node:
            node = flatten(node)
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref":
                out["$ref"] = "#/definitions/" + value.rsplit("/", 1)[-1]
            elif key == "oneOf":
                out["anyOf"] = convert(value)  # the spec's alternatives overlap
            elif key == "properties":
                out[key] = {name: convert(sub) for name, sub in value.items()}
            elif key not in ("nullable", "example", "discriminator", "readOnly", "deprecated"):
                out[key] = convert(value)
        if "properties" in node and "additionalProperties" not in node:
            out["additionalProperties"] = False
        if node.get("nullable"):
            out = {"anyOf": [out, {"type": "null"}]}
        return out

    return {name: convert(schema) for name, schema in components.items()}


@functools.lru_cache(maxsize=1)
def _response_validators() -> dict[str, Any]:
    """A closed validator (formats checked) of each GET operation's 200 response."""
    import jsonschema

    spec = json.loads(FULL_SPEC.read_text(encoding="utf-8"))
    definitions = _strict_schemas(spec)
    out: dict[str, Any] = {}
    for item in spec["paths"].values():
        for op in item.values():
            if not isinstance(op, dict) or "operationId" not in op:
                continue
            content = op.get("responses", {}).get("200", {}).get("content")
            if not content:
                continue
            schema = next(iter(content.values()))["schema"]
            if "$ref" not in schema:
                continue
            out[op["operationId"]] = jsonschema.Draft7Validator(
                {
                    "definitions": definitions,
                    "$ref": "#/definitions/" + schema["$ref"].rsplit("/", 1)[-1],
                },
                format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER,
            )
    return out


def response_cases(sim: KlaviyoSimulator) -> list[tuple[str, str, dict[str, str]]]:
    """(operation id, path, query) of the GETs whose responses are checked against the spec."""
    notes = sim.data.notes
    profile_fields = {"additional-fields[profile]": "subscriptions,predictive_analytics"}
    cases: list[tuple[str, str, dict[str, str]]] = [
        ("get_accounts", "/api/accounts", {}),
        ("get_profiles", "/api/profiles", {**profile_fields, "include": "push-tokens"}),
        ("get_events", "/api/events", {"page[size]": "1000", "include": "profile,metric"}),
        ("get_events", "/api/events", {"include": "attributions,metric", "page[size]": "50"}),
        ("get_metrics", "/api/metrics", {"include": "flow-triggers"}),
        ("get_lists", "/api/lists", {"include": "tags,flow-triggers"}),
        ("get_segments", "/api/segments", {"include": "tags,flow-triggers"}),
        ("get_flows", "/api/flows", {"include": "flow-actions,tags"}),
        ("get_templates", "/api/templates", {"additional-fields[template]": "definition"}),
        ("get_all_universal_content", "/api/template-universal-content", {}),
        ("get_tags", "/api/tags", {"include": "tag-group"}),
        ("get_tag_groups", "/api/tag-groups", {}),
        ("get_coupons", "/api/coupons", {}),
        ("get_catalog_items", "/api/catalog-items", {"include": "variants"}),
        ("get_catalog_variants", "/api/catalog-variants", {}),
        ("get_catalog_categories", "/api/catalog-categories", {}),
        ("get_images", "/api/images", {}),
        ("get_forms", "/api/forms", {}),
        ("get_webhooks", "/api/webhooks", {"include": "webhook-topics"}),
        ("get_webhook_topics", "/api/webhook-topics", {}),
        ("get_custom_metrics", "/api/custom-metrics", {"include": "metrics"}),
        ("get_mapped_metrics", "/api/mapped-metrics", {"include": "metric,custom-metric"}),
        ("get_web_feeds", "/api/web-feeds", {}),
        ("get_tracking_settings", "/api/tracking-settings", {}),
        ("get_reviews", "/api/reviews", {}),
        ("get_push_tokens", "/api/push-tokens", {"include": "profile"}),
        (
            "get_profiles_for_list",
            f"/api/lists/{notes['list_joined_tie']['list_id']}/profiles",
            profile_fields,
        ),
        (
            "get_profiles_for_segment",
            f"/api/segments/{notes['segment_joined_tie']['segment_id']}/profiles",
            {},
        ),
    ]
    for channel in ("email", "sms", "mobile_push"):
        expression = f"equals(messages.channel,'{channel}')"
        for archived in ("true", "false"):
            params = {
                "filter": f"{expression},equals(archived,{archived})",
                "include": "campaign-messages,tags",
            }
            cases.append(("get_campaigns", "/api/campaigns", params))
    metric = sim.data.ids("metric")[0]
    sample = {"additional-fields[metric-property]": "sample_values"}
    cases.append(("get_properties_for_metric", f"/api/metrics/{metric}/metric-properties", sample))
    for campaign in sim.data.ids("campaign"):
        cases.append(
            ("get_messages_for_campaign", f"/api/campaigns/{campaign}/campaign-messages", {})
        )
        cases.append(
            ("get_tag_ids_for_campaign", f"/api/campaigns/{campaign}/relationships/tags", {})
        )
    for flow in sim.data.ids("flow"):
        cases.append(("get_actions_for_flow", f"/api/flows/{flow}/flow-actions", {}))
    for action in sim.data.ids("flow-action"):
        cases.append(("get_flow_action_messages", f"/api/flow-actions/{action}/flow-messages", {}))
    for coupon in sim.data.ids("coupon"):
        cases.append(("get_coupon_codes_for_coupon", f"/api/coupons/{coupon}/coupon-codes", {}))
    for form in sim.data.ids("form"):
        cases.append(("get_versions_for_form", f"/api/forms/{form}/form-versions", {}))
    for order in notes["attribution"]["attributed_orders"][:3]:
        cases.append(("get_event", f"/api/events/{order}", {"include": "attributions"}))
    cases.append(
        ("get_object_types", "/api/object-types", {"include": "current-schema,draft-schema"})
    )
    cases.append(("get_data_sources", "/api/data-sources", {}))
    every = "current-schema,draft-schema,schema-versions,object-types,profile-object-types"
    for type_id, records in notes["objects"]["records"].items():
        cases.append(("get_object_type", f"/api/object-types/{type_id}", {"include": every}))
        cases.append(
            ("get_records_for_object_type", f"/api/object-types/{type_id}/object-records", {})
        )
        cases.append(
            (
                "get_schema_versions_for_object_type",
                f"/api/object-types/{type_id}/schema-versions",
                {},
            )
        )
        if records:
            cases.append(("get_object_record", f"/api/object-records/{records[0]}", {}))
    for trigger in notes["configuration"]["flow_triggers"]:
        kind, owner = trigger["type"], trigger["id"]
        operation = f"get_flows_triggered_by_{kind}"
        cases.append((operation, f"/api/{kind}s/{owner}/flow-triggers", {}))
    for estimation in sim.data.ids("campaign-recipient-estimation"):
        path = f"/api/campaign-recipient-estimations/{estimation}"
        cases.append(("get_campaign_recipient_estimation", path, {}))
    item = notes["catalog"]["items"][0]
    cases.append(
        (
            "get_category_ids_for_catalog_item",
            f"/api/catalog-items/{item}/relationships/categories",
            {},
        )
    )
    return cases


def spec_pages(
    http: requests.Session, sim: KlaviyoSimulator
) -> Iterator[tuple[str, dict[str, Any], Any]]:
    """(operation id, page, its response validator) for every page of ``response_cases``,
    each at the operation's largest page size."""
    validators = _response_validators()
    for operation_id, path, params in response_cases(sim):
        query = dict(params)
        largest = sim.spec.operations[operation_id].page_size_max
        if largest:
            query.setdefault("page[size]", str(largest))
        for page in walk(http, sim.url + path, query):
            yield operation_id, page, validators[operation_id]
