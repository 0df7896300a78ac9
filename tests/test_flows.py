"""flows, archived and not."""

from __future__ import annotations

from typing import Any

from tests.conftest import run_tap


def test_flows_archived_and_not(sim: Any, config: dict[str, Any]) -> None:
    run = run_tap(config, streams=["flows"])
    flows = sim.data.get("flow")
    assert sorted(run.ids("flows")) == sorted(f["id"] for f in flows)
    assert {r["archived"] for r in run.records["flows"]} == {True, False}
    assert {p["context"]["archived"] for p in run.state["bookmarks"]["flows"]["partitions"]} == {
        True,
        False,
    }
