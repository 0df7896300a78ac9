"""templates and tags."""

from __future__ import annotations

from typing import Any

from tests.conftest import run_tap


def test_templates_incremental_and_tags_full(sim: Any, config: dict[str, Any]) -> None:
    run = run_tap(config, streams=["templates", "tags"])
    assert sorted(run.ids("templates")) == sorted(t["id"] for t in sim.data.get("template"))
    assert sorted(run.ids("tags")) == sorted(t["id"] for t in sim.data.get("tag"))
    assert run.state["bookmarks"]["templates"]["replication_key_value"] == max(
        t["attributes"]["updated"] for t in sim.data.get("template")
    )
