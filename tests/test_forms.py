"""forms and their versions: `Z` timestamps become canonical bookmarks, one per form."""

from __future__ import annotations

from typing import Any

from tap_klaviyo.dates import parse_datetime, utc_iso
from tests.conftest import run_tap


def canonical(value: str) -> str:
    return utc_iso(parse_datetime(value))


def form_of(sim: Any, version_id: str) -> str:
    ((_, form),) = sim.data.targets("form-version", version_id, "form")
    return form


def test_forms_and_versions_with_bookmarks_per_form(sim: Any, config: dict[str, Any]) -> None:
    run = run_tap(config, streams=["forms", "form_versions"])
    forms = sim.data.get("form")
    assert all(f["attributes"]["updated_at"].endswith("Z") for f in forms)
    emitted = run.ids("forms")
    assert len(emitted) == len(set(emitted)) and set(emitted) == {f["id"] for f in forms}
    versions = sim.data.get("form-version")
    emitted = run.ids("form_versions")
    assert len(emitted) == len(set(emitted)) and set(emitted) == {v["id"] for v in versions}
    for record in run.records["form_versions"]:
        assert record["form_id"] == form_of(sim, record["id"])
        # The replication key is canonical, as in every bookmark.
        assert record["updated_at"].endswith("+00:00")

    partitions = run.state["bookmarks"]["form_versions"]["partitions"]
    by_form = {p["context"]["form_id"]: p for p in partitions}
    assert set(by_form) == {f["id"] for f in forms}
    for form_id, partition in by_form.items():
        stamps = [
            v["attributes"]["updated_at"] for v in versions if form_of(sim, v["id"]) == form_id
        ]
        assert partition["replication_key_value"] == max(canonical(s) for s in stamps)


def test_forms_bookmark_is_canonical_and_the_next_run_reads_only_the_boundary(
    sim: Any, config: dict[str, Any]
) -> None:
    first = run_tap(config, streams=["forms"])
    newest = max(canonical(f["attributes"]["updated_at"]) for f in sim.data.get("form"))
    assert first.state["bookmarks"]["forms"]["replication_key_value"] == newest
    second = run_tap(config, streams=["forms"], state=first.state)
    assert [r["updated_at"] for r in second.records.get("forms", [])] == [newest]
    sent = [r for r in sim.requests if r.path == "/api/forms"][-1]
    assert sent.query["sort"] == ["updated_at"]
    assert f"greater-or-equal(updated_at,{newest})" in sent.query["filter"][0]


def test_new_version_is_read_though_its_form_did_not_change(
    sim: Any, config: dict[str, Any]
) -> None:
    first = run_tap(config, streams=["forms", "form_versions"])
    form = sim.data.get("form")[0]
    sim.data.advance(60)
    stamp = sim.data.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    sim.data.add(
        "form-version",
        {
            "type": "form-version",
            "id": "7654321",
            "attributes": {
                "form_type": "popup",
                "variation_name": "C",
                "ab_test": None,
                "status": "draft",
                "created_at": stamp,
                "updated_at": stamp,
            },
            "relationships": {"form": {"data": {"type": "form", "id": form["id"]}}},
        },
    )
    assert sim.data.get_one("form", form["id"])["attributes"] == form["attributes"]
    second = run_tap(config, streams=["forms", "form_versions"], state=first.state)
    assert "7654321" in second.ids("form_versions")
    assert len(second.records["form_versions"]) < len(first.records["form_versions"])
