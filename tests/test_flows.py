"""flows archived and not, their actions, the actions' messages and the flows' tags."""

from __future__ import annotations

from typing import Any

from tap_klaviyo.dates import parse_datetime, utc_iso
from tests.conftest import run_tap

FLOW_STREAMS = ["flows", "flow_actions", "flow_messages", "flow_tags"]


def parent_of(sim: Any, kind: str, rid: str, rel: str) -> str:
    ((_, parent),) = sim.data.targets(kind, rid, rel)
    return parent


def newest(values: list[str]) -> str:
    return utc_iso(max(parse_datetime(v) for v in values))


def test_flows_archived_and_not(sim: Any, config: dict[str, Any]) -> None:
    run = run_tap(config, streams=["flows"])
    flows = sim.data.get("flow")
    assert sorted(run.ids("flows")) == sorted(f["id"] for f in flows)
    assert {r["archived"] for r in run.records["flows"]} == {True, False}
    assert {p["context"]["archived"] for p in run.state["bookmarks"]["flows"]["partitions"]} == {
        True,
        False,
    }


def test_actions_messages_and_tags_belong_to_their_flow(sim: Any, config: dict[str, Any]) -> None:
    run = run_tap(config, streams=FLOW_STREAMS)
    actions = {a["id"]: a for a in sim.data.get("flow-action")}
    action_flow = {aid: parent_of(sim, "flow-action", aid, "flow") for aid in actions}
    # Archived flows' actions too.
    assert set(sim.data.notes["flows"]["archived"]) & set(action_flow.values())
    emitted = run.ids("flow_actions")
    assert len(emitted) == len(set(emitted)) and set(emitted) == set(actions)
    for record in run.records["flow_actions"]:
        assert record["flow_id"] == action_flow[record["id"]]
        assert record["definition"] == actions[record["id"]]["attributes"]["definition"]

    messages = sim.data.get("flow-message")
    assert messages, "the seed has flow messages"
    emitted = run.ids("flow_messages")
    assert len(emitted) == len(set(emitted)) and set(emitted) == {m["id"] for m in messages}
    for record in run.records["flow_messages"]:
        action = parent_of(sim, "flow-message", record["id"], "flow-action")
        assert record["flow_action_id"] == action
        assert record["flow_id"] == action_flow[action]

    expected_tags = {
        (flow["id"], tag)
        for flow in sim.data.get("flow")
        for _, tag in sim.data.targets("flow", flow["id"], "tags")
    }
    assert expected_tags, "the seed tags some flows"
    pairs = [(r["flow_id"], r["tag_id"]) for r in run.records["flow_tags"]]
    assert len(pairs) == len(set(pairs)) and set(pairs) == expected_tags
    # The tags come with the flows (include=tags): no request of their own.
    assert not [r for r in sim.requests if "/tags" in r.path]
    flow_requests = [r for r in sim.requests if r.path == "/api/flows"]
    assert all(r.query.get("include") == ["tags"] for r in flow_requests)

    # A bookmark per action, at the newest message of that action.
    partitions = run.state["bookmarks"]["flow_messages"]["partitions"]
    by_action = {p["context"]["flow_action_id"]: p for p in partitions}
    assert set(by_action) == set(actions), "every action is visited"
    for action in actions:
        stamps = [
            m["attributes"]["updated"]
            for m in messages
            if parent_of(sim, "flow-message", m["id"], "flow-action") == action
        ]
        assert by_action[action].get("replication_key_value") == (
            newest(stamps) if stamps else None
        )


def test_flow_actions_bookmark_per_flow(sim: Any, config: dict[str, Any]) -> None:
    run = run_tap(config, streams=["flows", "flow_actions"])
    actions = sim.data.get("flow-action")
    partitions = run.state["bookmarks"]["flow_actions"]["partitions"]
    by_flow = {p["context"]["flow_id"]: p for p in partitions}
    assert set(by_flow) == set(sim.data.ids("flow")), "every flow is visited"
    for flow_id, partition in by_flow.items():
        stamps = [
            a["attributes"]["updated"]
            for a in actions
            if parent_of(sim, "flow-action", a["id"], "flow") == flow_id
        ]
        if stamps:
            assert partition["replication_key"] == "updated"
            assert partition["replication_key_value"] == newest(stamps)
        else:
            assert "replication_key_value" not in partition


def test_new_action_is_read_though_its_flow_did_not_change(
    sim: Any, config: dict[str, Any]
) -> None:
    first = run_tap(config, streams=["flows", "flow_actions"])
    flow_id = sim.data.notes["flows"]["flow_ids"][1]
    flow_updated = sim.data.get_one("flow", flow_id)["attributes"]["updated"]
    sim.data.advance(60)
    sim.data.add(
        "flow-action",
        {
            "type": "flow-action",
            "id": "99999999",
            "attributes": {
                "created": sim.data.now_iso(),
                "updated": sim.data.now_iso(),
                "definition": {
                    "id": "99999999",
                    "temporary_id": None,
                    "type": "time-delay",
                    "links": {"next": None},
                    "data": {
                        "unit": "hours",
                        "value": 2,
                        "secondary_value": None,
                        "timezone": "profile",
                        "delay_until_time": None,
                        "delay_until_weekdays": None,
                    },
                },
            },
            "relationships": {"flow": {"data": {"type": "flow", "id": flow_id}}},
        },
    )
    assert sim.data.get_one("flow", flow_id)["attributes"]["updated"] == flow_updated
    second = run_tap(config, streams=["flows", "flow_actions"], state=first.state)
    assert "99999999" in second.ids("flow_actions")
    # Each flow's bookmark keeps the rest out (only records at the bookmark come again).
    assert len(second.records["flow_actions"]) < len(first.records["flow_actions"])
    partitions = second.state["bookmarks"]["flow_actions"]["partitions"]
    (partition,) = [p for p in partitions if p["context"]["flow_id"] == flow_id]
    assert partition["replication_key_value"] == utc_iso(sim.data.now())
