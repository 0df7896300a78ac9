"""The account's configuration: custom and mapped metrics, web feeds, webhook topics,
tracking settings, flow triggers, campaign recipient estimations, custom objects."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.conftest import run_tap

FULL_TABLE = [
    ("custom_metrics", "custom-metric"),
    ("mapped_metrics", "mapped-metric"),
    ("web_feeds", "web-feed"),
    ("webhook_topics", "webhook-topic"),
    ("tracking_settings", "tracking-setting"),
    ("object_types", "object-type"),
    ("data_sources", "data-source"),
]


@pytest.mark.parametrize(("stream", "kind"), FULL_TABLE)
def test_every_record_once(sim: Any, config: dict[str, Any], stream: str, kind: str) -> None:
    run = run_tap(config, streams=[stream])
    emitted = run.ids(stream)
    assert len(emitted) == len(set(emitted)) and set(emitted) == set(sim.data.ids(kind))
    assert emitted, f"the seed has {kind}s"
    expected = {r["id"]: r.get("attributes") or {} for r in sim.data.get(kind)}
    for record in run.records[stream]:
        for name, value in expected[record["id"]].items():
            assert record[name] == value, (stream, name)
    assert "replication_key_value" not in str(run.state["bookmarks"].get(stream, {}))


def test_records_of_every_object_type(sim: Any, config: dict[str, Any]) -> None:
    run = run_tap(config, streams=["object_types", "object_records"])
    records = sim.data.notes["objects"]["records"]
    emitted = {(r["object_type_id"], r["id"]) for r in run.records["object_records"]}
    expected = {(kind, record) for kind, ids in records.items() for record in ids}
    assert emitted == expected and len(run.records["object_records"]) == len(expected)
    assert all(isinstance(r["record_properties"], dict) for r in run.records["object_records"])


@pytest.mark.parametrize(
    ("parent", "stream", "key", "kind"),
    [
        ("lists", "list_flow_triggers", "list_id", "list"),
        ("segments", "segment_flow_triggers", "segment_id", "segment"),
        ("metrics", "metric_flow_triggers", "metric_id", "metric"),
    ],
)
def test_which_flows_lists_segments_and_metrics_trigger(
    sim: Any, config: dict[str, Any], parent: str, stream: str, key: str, kind: str
) -> None:
    run = run_tap(config, streams=[parent, stream])
    expected = {
        (owner, flow)
        for owner in sim.data.ids(kind)
        for _, flow in sim.data.targets(kind, owner, "flow-triggers")
    }
    assert expected, f"a {kind} of the seed triggers a flow"
    pairs = [(r[key], r["flow_id"]) for r in run.records[stream]]
    assert len(pairs) == len(set(pairs)) and set(pairs) == expected
    # The parent's own pages name them (include=flow-triggers): no request per parent.
    assert not [r for r in sim.requests if "flow-triggers" in r.path]
    pages = [r for r in sim.requests if r.path == f"/api/{parent}"]
    assert pages and all("flow-triggers" in r.query.get("include", [""])[0] for r in pages)


def test_recipient_estimations_of_campaigns_that_have_one(
    sim: Any, config: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        run = run_tap(config, streams=["campaigns", "campaign_recipient_estimations"])
    estimations = {r["id"]: r["attributes"] for r in sim.data.get("campaign-recipient-estimation")}
    records = run.records["campaign_recipient_estimations"]
    assert {r["campaign_id"] for r in records} == set(estimations)
    for record in records:
        assert record["id"] == record["campaign_id"]
        expected = estimations[record["id"]]["estimated_recipient_count"]
        assert record["estimated_recipient_count"] == expected
    # Campaigns nobody estimated (404) are left out quietly.
    asked = sim.requests.for_operation("get_campaign_recipient_estimation")
    assert len(asked) == len(sim.data.ids("campaign")) > len(records)
    assert not [r for r in caplog.records if "estimation" in r.getMessage()]
