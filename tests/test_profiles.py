"""profiles: every profile once, flat, in `updated` order, incremental from state."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import run_tap


def requests_to(sim: Any, path: str) -> list[Any]:
    return [r for r in sim.requests if r.path == path]


@pytest.mark.parametrize("workers", [1, 4])
def test_full_sync_emits_every_profile_once_in_updated_order(
    sim: Any, config: dict[str, Any], workers: int
) -> None:
    run = run_tap({**config, "max_workers": workers}, streams=["profiles"])
    records = run.records["profiles"]
    expected = {p["id"]: p for p in sim.data.get("profile")}
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids))
    assert set(ids) == set(expected)
    assert [r["updated"] for r in records] == sorted(r["updated"] for r in records)
    for record in records:
        attributes = expected[record["id"]]["attributes"]
        for name in ("email", "phone_number", "external_id", "first_name", "location"):
            assert record.get(name) == attributes.get(name)
        assert record.get("properties") == attributes.get("properties")
    bookmark = run.state["bookmarks"]["profiles"]["replication_key_value"]
    assert bookmark == max(r["updated"] for r in records)


def test_profiles_filter_uses_only_operators_the_endpoint_allows(
    sim: Any, config: dict[str, Any]
) -> None:
    run_tap({**config, "start_date": "2020-01-01T00:00:00Z"}, streams=["profiles"])
    filters = [r.query.get("filter", [""])[0] for r in requests_to(sim, "/api/profiles")]
    assert filters
    assert all(f.count("greater-than(updated,") == 1 for f in filters)
    assert not any("greater-or-equal" in f for f in filters)
    assert all(r.status == 200 for r in sim.requests)


def test_second_run_reads_only_changes_since_the_bookmark(sim: Any, config: dict[str, Any]) -> None:
    first = run_tap(config, streams=["profiles"])
    bookmark = first.state["bookmarks"]["profiles"]["replication_key_value"]
    changed = sim.data.get("profile")[3]["id"]
    sim.data.advance(3600)
    sim.data.update("profile", changed, first_name="Zoë 🎉")
    second = run_tap(config, streams=["profiles"], state=first.state)
    records = {r["id"]: r for r in second.records["profiles"]}
    assert records[changed]["first_name"] == "Zoë 🎉"
    # Records stamped exactly at the old bookmark are read again, nothing older.
    assert all(r["updated"] >= bookmark for r in records.values())
    assert len(records) < len(first.records["profiles"]) / 4
    assert second.state["bookmarks"]["profiles"]["replication_key_value"] == sim.data.now_iso()


def test_additional_fields_are_requested_and_emitted(sim: Any, config: dict[str, Any]) -> None:
    run = run_tap(
        {**config, "profiles_additional_fields": ["subscriptions"], "max_workers": 1},
        streams=["profiles"],
    )
    sent = {r.query.get("additional-fields[profile]", [""])[0] for r in sim.requests}
    assert sent == {"subscriptions"}
    assert any(r.get("subscriptions") for r in run.records["profiles"])


def test_future_dated_record_waits_and_never_moves_the_bookmark_past_now(
    sim: Any, config: dict[str, Any]
) -> None:
    from datetime import datetime, timedelta, timezone

    from tap_klaviyo.dates import utc_iso

    ahead = utc_iso(datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=2))
    future = dict(sim.data.get("profile")[0])
    future["id"] = "from-a-bad-clock"
    future["attributes"] = {**future["attributes"], "updated": ahead, "created": ahead}
    sim.data.add("profile", future)
    run = run_tap(config, streams=["profiles"])
    assert "from-a-bad-clock" not in run.ids("profiles")
    bookmark = run.state["bookmarks"]["profiles"]["replication_key_value"]
    assert bookmark < ahead
    assert bookmark <= utc_iso(datetime.now(timezone.utc))
    # Once its time has come (here: an end_date past it), the next run reads it.
    later = run_tap(
        {**config, "end_date": utc_iso(datetime.now(timezone.utc) + timedelta(days=3))},
        streams=["profiles"],
        state=run.state,
    )
    assert "from-a-bad-clock" in later.ids("profiles")


def test_push_tokens_with_their_profile(sim: Any, config: dict[str, Any]) -> None:
    run = run_tap(config, streams=["push_tokens"])
    tokens = {t["id"]: t for t in sim.data.get("push-token")}
    emitted = run.ids("push_tokens")
    assert len(emitted) == len(set(emitted)) and set(emitted) == set(tokens)
    for record in run.records["push_tokens"]:
        ((_, profile),) = sim.data.targets("push-token", record["id"], "profile")
        assert record["profile_id"] == profile
        assert record["token"] == tokens[record["id"]]["attributes"]["token"]
    assert "replication_key_value" not in str(run.state["bookmarks"].get("push_tokens", {}))
