"""The reporting POSTs: what the spec rules out is a 400, cursors are bound to the body, the
daily quota, responses match the spec's schemas."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from klaviyo_sim import KlaviyoSimulator
from klaviyo_sim.tests.conftest import FULL_SPEC, VirtualClock
from tap_klaviyo.settings import DEFAULT_STATISTICS


@pytest.fixture
def sim() -> Iterator[KlaviyoSimulator]:
    """A simulator per test, not conftest's module-scoped one: these tests change it
    (``report_page_size``)."""
    with KlaviyoSimulator(seed=0) as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def _clean() -> None:
    """Replaces conftest's: there is no shared simulator here to reset after each test."""


def metric_id(sim: KlaviyoSimulator, name: str) -> str:
    return next(m["id"] for m in sim.data.get("metric") if m["attributes"]["name"] == name)


def post(sim: KlaviyoSimulator, path: str, kind: str, attributes: dict[str, Any], **params: Any):
    return requests.post(
        sim.url + path,
        params=params,
        headers={
            "Authorization": f"Klaviyo-API-Key {sim.api_key}",
            "revision": "2026-07-15",
            "Content-Type": "application/vnd.api+json",
        },
        data=json.dumps({"data": {"type": kind, "attributes": attributes}}),
        timeout=10,
    )


CAMPAIGN_DAY = {"start": "2025-04-11T00:00:00", "end": "2025-04-11T23:59:59"}


@pytest.mark.parametrize(
    ("path", "kind", "attributes", "pointer", "detail"),
    [
        (
            "/api/campaign-values-reports",
            "campaign-values-report",
            {"statistics": ["opens"], "timeframe": CAMPAIGN_DAY},
            "/data/attributes/conversion_metric_id",
            "required",
        ),
        (
            "/api/campaign-values-reports",
            "campaign-values-report",
            {"statistics": ["open"], "timeframe": CAMPAIGN_DAY, "conversion_metric_id": "x"},
            "/data/attributes/statistics",
            "not a valid choice",
        ),
        (
            "/api/flow-series-reports",
            "flow-series-report",
            {
                "statistics": ["opens"],
                "timeframe": {"start": "2025-01-01T00:00:00", "end": "2025-03-02T00:00:01"},
                "interval": "daily",
                "conversion_metric_id": "PLACED",
            },
            "/data/attributes/timeframe",
            "cannot be longer than 60 days",
        ),
        (
            "/api/form-values-reports",
            "form-values-report",
            {
                "statistics": ["submits"],
                "timeframe": {"start": "2024-01-01T00:00:00", "end": "2025-01-02T00:00:00"},
            },
            "/data/attributes/timeframe",
            "1 year or shorter",
        ),
        (
            "/api/segment-series-reports",
            "segment-series-report",
            {
                "statistics": ["total_members"],
                "timeframe": {"start": "2023-05-31T00:00:00", "end": "2023-06-30T00:00:00"},
                "interval": "weekly",
            },
            "/data/attributes/timeframe",
            "Data is unavailable before June 1, 2023",
        ),
        (
            "/api/flow-values-reports",
            "flow-values-report",
            {
                "statistics": ["opens"],
                "timeframe": CAMPAIGN_DAY,
                "conversion_metric_id": "PLACED",
                "group_by": ["flow_id"],
            },
            "/data/attributes/group_by",
            "required: flow_message_id",
        ),
        (
            "/api/form-series-reports",
            "form-series-report",
            {"statistics": ["submits"], "timeframe": CAMPAIGN_DAY, "interval": "yearly"},
            "/data/attributes/interval",
            "not a valid choice",
        ),
        (
            "/api/campaign-values-reports",
            "campaign-values-report",
            {
                "statistics": ["opens"],
                "timeframe": CAMPAIGN_DAY,
                "conversion_metric_id": "PLACED",
                "filter": "equals(send_channel,'fax')",
            },
            "/data/attributes/filter",
            "allowed values are email, sms, push-notification, whatsapp",
        ),
        (
            "/api/metric-aggregates",
            "metric-aggregate",
            {"metric_id": "PLACED", "measurements": ["count"], "filter": []},
            "/data/attributes/filter",
            "must include a time range",
        ),
        (
            "/api/metric-aggregates",
            "metric-aggregate",
            {
                "metric_id": "PLACED",
                "measurements": ["count"],
                "timezone": "Europe/Kyiv",
                "filter": [
                    "greater-or-equal(datetime,2025-01-01T00:00:00)",
                    "less-than(datetime,2025-01-02T00:00:00)",
                ],
            },
            "/data/attributes/timezone",
            "not a supported timezone",
        ),
    ],
)
def test_simulator_rejects_what_the_spec_rules_out(
    sim: KlaviyoSimulator,
    path: str,
    kind: str,
    attributes: dict[str, Any],
    pointer: str,
    detail: str,
) -> None:
    placed = metric_id(sim, "Placed Order")
    for key in ("conversion_metric_id", "metric_id"):
        if attributes.get(key) == "PLACED":
            attributes = {**attributes, key: placed}
    response = post(sim, path, kind, attributes)
    assert response.status_code == 400, response.text
    error = response.json()["errors"][0]
    assert error["source"] == {"pointer": pointer}
    assert detail in error["detail"]


def test_simulator_report_cursors_are_bound_to_the_body(sim: KlaviyoSimulator) -> None:
    sim.report_page_size = 1
    attributes = {
        "statistics": ["recipients"],
        "timeframe": {"start": "2026-11-01T00:00:00", "end": "2026-11-01T23:59:59"},
        "conversion_metric_id": metric_id(sim, "Placed Order"),
    }
    first = post(sim, "/api/flow-values-reports", "flow-values-report", attributes).json()
    assert first["links"]["prev"] is None
    cursor = first["links"]["next"].split("page_cursor=")[1]
    second = post(
        sim, "/api/flow-values-reports", "flow-values-report", attributes, page_cursor=cursor
    )
    assert second.status_code == 200
    assert second.json()["links"]["prev"]
    other = {**attributes, "statistics": ["delivered"]}
    refused = post(sim, "/api/flow-values-reports", "flow-values-report", other, page_cursor=cursor)
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["source"] == {"parameter": "page_cursor"}
    wrong_type = requests.post(
        sim.url + "/api/flow-values-reports",
        headers={
            "Authorization": f"Klaviyo-API-Key {sim.api_key}",
            "revision": "2026-07-15",
            "Content-Type": "text/plain",
        },
        data="{}",
        timeout=10,
    )
    assert wrong_type.status_code == 415


def test_simulator_daily_quota_asks_to_wait_hours(clock: VirtualClock) -> None:
    with KlaviyoSimulator(seed=0, rate_limits=True, clock=clock, daily_quota=2) as sim:
        attributes = {"statistics": ["total_members"], "timeframe": {"key": "yesterday"}}
        statuses = []
        for _ in range(3):
            clock.sleep(61)
            response = post(sim, "/api/segment-values-reports", "segment-values-report", attributes)
            statuses.append(response.status_code)
        assert statuses == [200, 200, 429]
        assert 86_000 < int(response.headers["Retry-After"]) <= 86_400
        clock.sleep(86_400)
        ok = post(sim, "/api/segment-values-reports", "segment-values-report", attributes)
        assert ok.status_code == 200


@pytest.mark.skipif(not FULL_SPEC.exists(), reason="the full OpenAPI spec is not available")
def test_simulator_report_responses_match_the_spec(sim: KlaviyoSimulator) -> None:
    """Against the spec's response schemas with undeclared members forbidden, after taking
    out what Klaviyo sends beyond them: ``data.id`` and ``links.next``/``links.prev``."""
    jsonschema = pytest.importorskip("jsonschema")
    from klaviyo_sim.tests.conftest import _strict_schemas

    spec = json.loads(FULL_SPEC.read_text(encoding="utf-8"))
    every = _strict_schemas(spec)

    def reachable(*names: str) -> dict[str, Any]:
        """Only the definitions these schemas refer to: validation stays fast."""
        found: dict[str, Any] = {}
        pending = list(names)
        while pending:
            name = pending.pop()
            if name in found:
                continue
            found[name] = every[name]
            text = json.dumps(every[name])
            pending += [ref.split('"')[0] for ref in text.split('"$ref": "#/definitions/')[1:]]
        return found

    placed = metric_id(sim, "Placed Order")
    week = {"start": "2025-04-07T00:00:00", "end": "2025-04-13T23:59:59"}
    cases = [
        (
            "/api/campaign-values-reports",
            "campaign-values-report",
            {"conversion_metric_id": placed},
        ),
        ("/api/flow-values-reports", "flow-values-report", {"conversion_metric_id": placed}),
        (
            "/api/flow-series-reports",
            "flow-series-report",
            {"conversion_metric_id": placed, "interval": "daily"},
        ),
        ("/api/form-values-reports", "form-values-report", {}),
        ("/api/form-series-reports", "form-series-report", {"interval": "weekly"}),
        ("/api/segment-values-reports", "segment-values-report", {}),
        ("/api/segment-series-reports", "segment-series-report", {"interval": "monthly"}),
    ]
    for path, kind, extra in cases:
        family = kind.split("-")[0]
        attributes = {
            "statistics": list(DEFAULT_STATISTICS[family]),
            "timeframe": week,
            **extra,
        }
        response = post(sim, path, kind, attributes)
        assert response.status_code == 200, response.text
        document = response.json()
        assert document["data"].pop("id")
        assert "next" in document["links"] or path.startswith(("/api/form", "/api/segment"))
        document["links"] = {"self": document["links"]["self"]}
        operation = spec["paths"][path]["post"]
        ref = operation["responses"]["200"]["content"]["application/vnd.api+json"]["schema"]
        name = ref["$ref"].rsplit("/", 1)[-1]
        schema = {"$ref": f"#/definitions/{name}", "definitions": reachable(name)}
        jsonschema.validate(document, schema)
    response = post(
        sim,
        "/api/metric-aggregates",
        "metric-aggregate",
        {
            "metric_id": placed,
            "measurements": ["count", "sum_value"],
            "by": ["$message"],
            "filter": [
                "greater-or-equal(datetime,2025-01-01T00:00:00)",
                "less-than(datetime,2025-03-01T00:00:00)",
            ],
        },
    )
    assert response.status_code == 200, response.text
    document = response.json()
    document["links"] = {"self": document["links"]["self"]}
    name = "PostMetricAggregateResponse"
    schema = {"$ref": f"#/definitions/{name}", "definitions": reachable(name)}
    jsonschema.validate(document, schema)
