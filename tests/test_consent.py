"""Who must not be emailed: global and per-list suppressions, incremental, with lifted
suppressions dropped by the periodic full read."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

from tests.conftest import run_tap

MARKETING = ("subscriptions", "email", "marketing")


def marketing(profile: dict[str, Any]) -> dict[str, Any]:
    node: Any = profile["attributes"]
    for part in MARKETING:
        node = (node or {}).get(part)
    return node or {}


def suppressions(sim: Any) -> set[tuple[str, str, str, str]]:
    """(profile, channel, reason, timestamp) of every global suppression in the store."""
    return {
        (p["id"], "email", s["reason"], s["timestamp"])
        for p in sim.data.get("profile")
        for s in marketing(p).get("suppression") or []
    }


def list_suppressions(sim: Any) -> set[tuple[str, str, str]]:
    return {
        (s["list_id"], p["id"], s["timestamp"])
        for p in sim.data.get("profile")
        for s in marketing(p).get("list_suppressions") or []
    }


def global_rows(run: Any) -> set[tuple[str, str, str, str]]:
    return {
        (r["profile_id"], r["channel"], r["reason"], r["timestamp"])
        for r in run.records.get("global_exclusions", [])
    }


def aged(state: dict[str, Any], stream: str, days: float) -> dict[str, Any]:
    state = copy.deepcopy(state)
    last = datetime.fromisoformat(state["bookmarks"][stream]["full_refreshed_at"])
    state["bookmarks"][stream]["full_refreshed_at"] = (last - timedelta(days=days)).isoformat()
    return state


def test_every_suppression_once_with_the_profile_s_contacts(
    sim: Any, config: dict[str, Any]
) -> None:
    run = run_tap(config, streams=["global_exclusions", "list_exclusions"])
    expected = suppressions(sim)
    assert len(expected) > 20, "the seed suppresses profiles"
    assert global_rows(run) == expected
    assert len(run.records["global_exclusions"]) == len(expected)
    profiles = {p["id"]: p["attributes"] for p in sim.data.get("profile")}
    for row in run.records["global_exclusions"]:
        assert row["email"] == profiles[row["profile_id"]]["email"]
        assert row["phone_number"] == profiles[row["profile_id"]]["phone_number"]
    rows = {(r["list_id"], r["profile_id"], r["timestamp"]) for r in run.records["list_exclusions"]}
    assert rows == list_suppressions(sim) and rows
    # Only suppressed profiles were asked for: every request bounds the timestamp.
    for request in sim.requests.for_operation("get_profiles"):
        assert "suppression" in " ".join(request.query.get("filter", []))
        assert request.query["additional-fields[profile]"] == ["subscriptions"]
    bookmark = run.state["bookmarks"]["global_exclusions"]["replication_key_value"]
    assert bookmark == max(t for *_, t in expected)


def test_new_suppressions_are_read_incrementally(sim: Any, config: dict[str, Any]) -> None:
    first = run_tap(config, streams=["global_exclusions"])
    clean = next(p["id"] for p in sim.data.get("profile") if not marketing(p).get("suppression"))
    sim.data.advance(60)
    sim.data.suppress(clean, reason="SPAM_COMPLAINT")
    sim.requests.clear()
    second = run_tap(config, streams=["global_exclusions"], state=first.state)
    new = {row for row in global_rows(second) if row[0] == clean}
    assert new == {(clean, "email", "SPAM_COMPLAINT", sim.data.now_iso())}
    # Read from the bookmark on: not every suppressed profile again.
    assert len(second.records["global_exclusions"]) < len(first.records["global_exclusions"])


def test_a_lifted_suppression_is_dropped_by_the_full_read(sim: Any, config: dict[str, Any]) -> None:
    """Un-suppressing leaves nothing to filter on: the weekly full read sends every
    current suppression under a new version, then ACTIVATE_VERSION, and the target drops
    (or marks deleted) the row of the profile that may be emailed again."""
    first = run_tap(config, streams=["global_exclusions"])
    lifted = next(
        p["id"]
        for p in sim.data.get("profile")
        if [s["reason"] for s in marketing(p).get("suppression") or []] == ["USER_SUPPRESSED"]
    )
    assert any(row[0] == lifted for row in global_rows(first))
    sim.data.advance(60)
    sim.data.unsuppress(lifted)
    incremental = run_tap(config, streams=["global_exclusions"], state=first.state)
    assert not [m for m in incremental.messages if m["type"] == "ACTIVATE_VERSION"]

    full = run_tap(
        config,
        streams=["global_exclusions"],
        state=aged(incremental.state, "global_exclusions", 7),
    )
    activations = [m for m in full.messages if m["type"] == "ACTIVATE_VERSION"]
    assert len(activations) == 1
    records = [m for m in full.messages if m["type"] == "RECORD"]
    assert {m["version"] for m in records} == {activations[0]["version"]}
    assert full.messages.index(activations[0]) > full.messages.index(records[-1])
    assert global_rows(full) == suppressions(sim)
    assert all(row[0] != lifted for row in global_rows(full))
