"""`meltano run tap-klaviyo target-postgres` against the simulator, into real PostgreSQL."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (
    column,
    column_types,
    count,
    primary_key,
    selected_by_default,
    sim_env,
    tables,
)

pytestmark = pytest.mark.e2e

TAP = str(Path(sys.executable).parent / "tap-klaviyo")
JOB = "dev:tap-klaviyo-to-target-postgres"


def _relationship_count(data: Any, resource_type: str, name: str) -> int:
    total = 0
    for resource in data.get(resource_type):
        rel = (resource.get("relationships") or {}).get(name) or {}
        refs = rel.get("data") or []
        total += len(refs) if isinstance(refs, list) else 1
    return total


# Stream -> number of rows the simulator's data should give, straight from its store.
SIM_COUNTS = {
    "profiles": lambda d: d.count("profile"),
    "events": lambda d: d.count("event"),
    "metrics": lambda d: d.count("metric"),
    "lists": lambda d: d.count("list"),
    "segments": lambda d: d.count("segment"),
    "tags": lambda d: d.count("tag"),
    "templates": lambda d: d.count("template"),
    "flows": lambda d: d.count("flow"),
    "campaigns": lambda d: d.count("campaign"),
    "campaign_messages": lambda d: d.count("campaign-message"),
    "campaign_tags": lambda d: _relationship_count(d, "campaign", "tags"),
    "list_members": lambda d: sum(len(d.members("list", i)) for i in d.ids("list")),
    "segment_members": lambda d: sum(len(d.members("segment", i)) for i in d.ids("segment")),
}


def discover(sim: Any, tmp_path: Path) -> dict[str, Any]:
    """The tap's own catalog (its streams and key properties), not a hard-coded list."""
    config = tmp_path / "discover-config.json"
    config.write_text(json.dumps({"api_key": sim.api_key, "api_url": sim.url}))
    out = subprocess.run(
        [TAP, "--config", str(config), "--discover"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    return {entry["tap_stream_id"]: entry for entry in json.loads(out)["streams"]}


def tap_row_counts(sim: Any, tmp_path: Path, catalog: dict[str, Any], streams: set[str]):
    """Distinct primary keys per stream when the tap runs alone with only ``streams``
    selected (for streams the simulator mapping above does not know yet). It reads a
    simulator of its own with the same seed (same data, a fresh rate-limit budget)."""
    from klaviyo_sim import KlaviyoSimulator

    with KlaviyoSimulator(seed=sim.seed, reality=True) as twin:
        return _tap_row_counts(twin, tmp_path, catalog, streams)


def _tap_row_counts(sim: Any, tmp_path: Path, catalog: dict[str, Any], streams: set[str]):
    config = tmp_path / "direct-config.json"
    config.write_text(json.dumps({"api_key": sim.api_key, "api_url": sim.url}))
    entries = copy.deepcopy(list(catalog.values()))
    for entry in entries:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = entry["tap_stream_id"] in streams
    catalog_file = tmp_path / "direct-catalog.json"
    catalog_file.write_text(json.dumps({"streams": entries}))
    out = subprocess.run(
        [TAP, "--config", str(config), "--catalog", str(catalog_file)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    keys: dict[str, list[str]] = {}
    seen: dict[str, set] = {}
    for line in out.splitlines():
        if not line.startswith("{"):
            continue
        message = json.loads(line)
        if message["type"] == "SCHEMA":
            keys[message["stream"]] = message.get("key_properties") or []
            seen.setdefault(message["stream"], set())
        elif message["type"] == "RECORD":
            stream = message["stream"]
            record = message["record"]
            pk = tuple(json.dumps(record.get(k), sort_keys=True) for k in keys.get(stream, []))
            seen.setdefault(stream, set()).add(pk or json.dumps(record, sort_keys=True))
    return {stream: len(ids) for stream, ids in seen.items()}


def bookmark(meltano, state_id: str, stream: str) -> Any:
    state = meltano.json("state", "get", state_id)
    return state["singer_state"]["bookmarks"][stream].get("replication_key_value")


def test_run_loads_every_stream(meltano, session_sim, db, schema, tmp_path):
    """Every discovered stream becomes a table with the simulator's row count and the
    stream's primary key; nested objects land as jsonb."""
    sim = session_sim
    # The streams meltano.yml selects: the tap's selected-by-default ones (checked in
    # test_meltano_project.py::test_meltano_selects_the_tap_defaults).
    catalog = {s: e for s, e in discover(sim, tmp_path).items() if selected_by_default(e)}
    meltano(
        "run",
        f"--state-id-suffix={schema}",
        "tap-klaviyo",
        "target-postgres",
        env=sim_env(sim, schema),
    )

    assert set(tables(db, schema)) >= set(catalog), "a discovered stream has no table"
    direct = None
    mismatches = []
    for stream, entry in sorted(catalog.items()):
        if stream in SIM_COUNTS:
            expected = SIM_COUNTS[stream](sim.data)
        else:
            if direct is None:
                unknown = set(catalog) - set(SIM_COUNTS)
                direct = tap_row_counts(sim, tmp_path, catalog, unknown)
            expected = direct.get(stream, 0)
        got = count(db, schema, stream)
        if got != expected:
            mismatches.append(f"{stream}: {got} rows in PostgreSQL, expected {expected}")
        keys = set(entry.get("key_properties") or [])
        assert primary_key(db, schema, stream) == keys, f"{stream}: primary key"
        types = column_types(db, schema, stream)
        for prop, prop_schema in entry["schema"].get("properties", {}).items():
            kinds = prop_schema.get("type", [])
            kinds = [kinds] if isinstance(kinds, str) else kinds
            if "object" in kinds and prop in types:
                assert types[prop] == "jsonb", f"{stream}.{prop} is {types[prop]}, not jsonb"
    assert not mismatches, "\n".join(mismatches)

    assert count(db, schema, "profiles") > 0 and count(db, schema, "events") > 0
    assert column_types(db, schema, "profiles")["location"] == "jsonb"
    assert column_types(db, schema, "events")["event_properties"] == "jsonb"
    # jsonb holds real objects, not strings of JSON. (A JSON null from the API is stored
    # as the jsonb value 'null' by target-postgres, not as SQL NULL.)
    kinds = {
        r[0]
        for r in db.execute(
            f'select distinct jsonb_typeof(location) from "{schema}".profiles '
            "where location is not null"
        ).fetchall()
    }
    assert "object" in kinds and kinds <= {"object", "null"}
    kinds = {
        r[0]
        for r in db.execute(
            f'select distinct jsonb_typeof(event_properties) from "{schema}".events '
            "where event_properties is not null"
        ).fetchall()
    }
    assert "object" in kinds and kinds <= {"object", "null"}


def _new_resource(data: Any, resource_type: str, **attributes: Any) -> str:
    template = copy.deepcopy(data.get(resource_type)[0])
    resource_id = "01E2E" + uuid.uuid4().hex[:21].upper()
    template["id"] = resource_id
    template["attributes"].update(attributes)
    data.add(resource_type, template)
    return resource_id


def test_second_run_is_incremental_from_meltano_state(meltano, fresh_sim, db, schema):
    """A second `meltano run` reads only what changed since Meltano's stored bookmarks and
    upserts it: new rows appear, updated rows hold the new values, nothing is re-read in
    full."""
    sim = fresh_sim
    env = sim_env(sim, schema, select=["profiles", "events"])
    state_id = f"{JOB}:{schema}"
    run = ("run", f"--state-id-suffix={schema}", "tap-klaviyo", "target-postgres")
    meltano(*run, env=env)

    profiles_before = count(db, schema, "profiles")
    events_before = count(db, schema, "events")
    profile_mark = bookmark(meltano, state_id, "profiles")
    event_mark = bookmark(meltano, state_id, "events")
    assert profile_mark and event_mark
    at_profile_mark = {
        p["id"] for p in sim.data.get("profile") if p["attributes"].get("updated") == profile_mark
    }

    sim.data.advance(3600)
    now = sim.data.now_iso()
    # An old profile (well before the bookmark) is updated; a new profile and event appear.
    old = min(sim.data.get("profile"), key=lambda p: p["attributes"].get("updated") or "")
    sim.data.update("profile", old["id"], first_name="Updated-by-e2e", title="E2E")
    new_profile = _new_resource(
        sim.data,
        "profile",
        email="new-e2e@example.com",
        first_name="New",
        created=now,
        updated=now,
    )
    stamp = int(datetime.fromisoformat(now).timestamp())
    new_event = _new_resource(sim.data, "event", datetime=now, timestamp=stamp)
    sim.requests.clear()

    meltano(*run, env=env)

    assert tables(db, schema) == ["events", "profiles"]  # TAP_KLAVIYO__SELECT was honoured
    # The new and the updated values are in PostgreSQL, upserted (no duplicates).
    assert count(db, schema, "profiles") == profiles_before + 1 == sim.data.count("profile")
    assert count(db, schema, "events") == events_before + 1 == sim.data.count("event")
    assert column(db, schema, "profiles", "first_name", f"id = '{old['id']}'") == ["Updated-by-e2e"]
    assert column(db, schema, "profiles", "email", f"id = '{new_profile}'") == [
        "new-e2e@example.com"
    ]
    assert count(db, schema, "events", f"id = '{new_event}'") == 1

    # Only the changes were read again: rows written by the second run carry its
    # _sdc_sync_started_at; for profiles that is the two changes (plus rows that tie with
    # the inclusive bookmark), never the whole table.
    reread = set(
        column(
            db,
            schema,
            "profiles",
            "id",
            f'_sdc_sync_started_at = (select max(_sdc_sync_started_at) from "{schema}".profiles)',
        )
    )
    assert {old["id"], new_profile} <= reread <= {old["id"], new_profile} | at_profile_mark
    events_reread = count(
        db,
        schema,
        "events",
        f'_sdc_sync_started_at = (select max(_sdc_sync_started_at) from "{schema}".events)',
    )
    assert 1 <= events_reread < events_before, "events were read in full again"

    # The requests themselves: every profiles request of the second run starts its
    # `updated` window at (about) the stored bookmark, far after the oldest profile.
    oldest = min(p["attributes"]["updated"] for p in sim.data.get("profile"))
    profile_requests = sim.requests.for_operation("get_profiles")
    assert profile_requests, "the second run did not ask for profiles"
    for request in profile_requests:
        text = " ".join(request.query.get("filter", []))
        lower = re.search(r"greater-(?:than|or-equal)\(updated,([^)]+)\)", text)
        assert lower, f"profiles read without an `updated` lower bound: {request.query}"
        start = datetime.fromisoformat(lower.group(1))
        assert start > datetime.fromisoformat(oldest)
        assert start >= datetime.fromisoformat(profile_mark) - timedelta(days=1), text
    assert bookmark(meltano, state_id, "profiles") == now


def test_discover_and_el_from_state_file(meltano, session_sim, db, schema, tmp_path):
    """`meltano invoke tap-klaviyo --discover` prints the catalog; `meltano el ... --state
    FILE` starts from the bookmarks in that file."""
    sim = session_sim
    env = sim_env(sim, schema)
    result = meltano("invoke", "tap-klaviyo", "--discover", env=env)
    catalog = json.loads(result.stdout)
    streams = {entry["tap_stream_id"] for entry in catalog["streams"]}
    assert streams == set(discover(sim, tmp_path))
    assert {"profiles", "events", "metrics"} <= streams

    updated = sorted(p["attributes"]["updated"] for p in sim.data.get("profile"))
    mark = updated[len(updated) // 2]
    state_file = tmp_path / "state.json"
    state_file.write_text(
        json.dumps(
            {
                "bookmarks": {
                    "profiles": {"replication_key": "updated", "replication_key_value": mark}
                }
            }
        )
    )
    meltano(
        "el",
        "tap-klaviyo",
        "target-postgres",
        "--state",
        str(state_file),
        f"--state-id=e2e-el-{schema}",
        "--select",
        "profiles",
        env=env,
    )

    after = sum(u > mark for u in updated)
    at_or_after = sum(u >= mark for u in updated)
    loaded = count(db, schema, "profiles")
    assert after <= loaded <= at_or_after < len(updated)
    assert tables(db, schema) == ["profiles"]
    # Meltano stored the state the run ended with under the given state ID.
    state = meltano.json("state", "get", f"e2e-el-{schema}")
    assert state["singer_state"]["bookmarks"]["profiles"]["replication_key_value"] == updated[-1]
