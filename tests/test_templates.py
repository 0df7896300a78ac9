"""templates, universal content and images; tags and tag groups."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import run_tap


def test_templates_incremental_and_tags_full(sim: Any, config: dict[str, Any]) -> None:
    run = run_tap(config, streams=["templates", "tags"])
    assert sorted(run.ids("templates")) == sorted(t["id"] for t in sim.data.get("template"))
    assert sorted(run.ids("tags")) == sorted(t["id"] for t in sim.data.get("tag"))
    assert run.state["bookmarks"]["templates"]["replication_key_value"] == max(
        t["attributes"]["updated"] for t in sim.data.get("template")
    )


def test_activate_version_follows_the_records_of_a_full_table_stream(
    sim: Any, config: dict[str, Any]
) -> None:
    run = run_tap({**config, "emit_activate_version_messages": True}, streams=["tags"])
    kinds = [m["type"] for m in run.messages if m.get("stream") == "tags"]
    assert kinds[0] == "SCHEMA" and kinds[-1] == "ACTIVATE_VERSION"
    assert kinds.count("ACTIVATE_VERSION") == 1
    version = next(m["version"] for m in run.messages if m["type"] == "ACTIVATE_VERSION")
    records = [m for m in run.messages if m["type"] == "RECORD"]
    assert records and all(m["version"] == version for m in records)


def test_failed_full_table_stream_sends_no_activate_version(
    sim: Any, config: dict[str, Any], fast_retries: None
) -> None:
    from klaviyo_sim import Fault
    from tests.conftest import run_tap_until_failure

    for number in range(60):
        sim.data.add(
            "tag",
            {
                "type": "tag",
                "id": f"extra-tag-{number:02d}",
                "attributes": {"name": f"extra {number}"},
            },
        )
    sim.faults.add(Fault(path_pattern=r"^/api/tags$", status=503, after=1, times=None))
    # Two pages of tags: the first arrives, the second never does.
    run, error = run_tap_until_failure(
        {**config, "emit_activate_version_messages": True}, streams=["tags"]
    )
    assert error is not None
    assert run.records["tags"], "the first page was written"
    assert not [m for m in run.messages if m["type"] == "ACTIVATE_VERSION"]


@pytest.mark.parametrize(
    ("stream", "kind", "key"),
    [
        ("images", "image", "updated_at"),
        ("template_universal_content", "template-universal-content", "updated"),
    ],
)
def test_incremental_content_streams(
    sim: Any, config: dict[str, Any], stream: str, kind: str, key: str
) -> None:
    run = run_tap(config, streams=[stream])
    emitted = run.ids(stream)
    assert len(emitted) == len(set(emitted)) and set(emitted) == set(sim.data.ids(kind))
    newest = max(r["attributes"][key] for r in sim.data.get(kind))
    assert run.state["bookmarks"][stream]["replication_key_value"] == newest
    again = run_tap(config, streams=[stream], state=run.state)
    assert [r[key] for r in again.records.get(stream, [])] == [newest]
    sent = [r for r in sim.requests if r.path.startswith("/api/")]
    assert sent[-1].query["sort"] == [key]
    assert f"greater-or-equal({key},{newest})" in sent[-1].query["filter"][0]


def test_tag_groups_full_table(sim: Any, config: dict[str, Any]) -> None:
    run = run_tap(config, streams=["tag_groups"])
    emitted = run.ids("tag_groups")
    assert len(emitted) == len(set(emitted)) and set(emitted) == set(sim.data.ids("tag-group"))
    assert "replication_key_value" not in str(run.state["bookmarks"].get("tag_groups", {}))
