"""The README's questions, answered by its own SQL from tables Meltano loaded from the
simulator, and checked against the simulator's data."""

from __future__ import annotations

import re
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.e2e.conftest import sim_env

ROOT = Path(__file__).resolve().parents[2]
STREAMS = [
    "events",
    "campaigns",
    "flows",
    "lists",
    "list_members",
    "segments",
    "segment_sizes",
    "global_exclusions",
    "object_types",
    "object_records",
]


def readme_queries() -> list[str]:
    """The SQL blocks of the README's "Answers from the tables"."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### Answers from the tables", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sql\n(.*?)```", section, flags=re.S)


def answer(db: Any, sql: str, schema: str) -> list[tuple]:
    return db.execute(sql.replace("tap_klaviyo.", f'"{schema}".')).fetchall()


def test_the_readme_answers_its_questions_from_the_tables(meltano, fresh_sim, db, schema):
    sim = fresh_sim
    env = sim_env(sim, schema, select=STREAMS, TAP_KLAVIYO_MEMBERS_FULL_REFRESH_DAYS="0.00001")
    meltano("run", f"--state-id-suffix={schema}", "tap-klaviyo", "target-postgres", env=env)
    # Someone leaves a list; the next run reads every membership again and says so.
    list_id, profile_id = next(
        (lst["id"], member)
        for lst in sim.data.get("list")
        for member in sim.data.members("list", lst["id"])
    )
    sim.data.remove_list_member(list_id, profile_id)
    meltano("run", f"--state-id-suffix={schema}", "tap-klaviyo", "target-postgres", env=env)

    excluded, revenue, sizes, left, objects = readme_queries()

    suppressed = {
        (p["attributes"]["email"], s["reason"])
        for p in sim.data.get("profile")
        for s in (
            ((p["attributes"].get("subscriptions") or {}).get("email") or {}).get("marketing") or {}
        ).get("suppression")
        or []
    }
    assert {(email, reason) for email, reason, _ in answer(db, excluded, schema)} == suppressed

    expected: dict[tuple[str, str], list[Any]] = defaultdict(lambda: [0, Decimal(0)])
    names = {
        r["id"]: r["attributes"]["name"] for t in ("flow", "campaign") for r in sim.data.get(t)
    }
    order_metric = {
        m["id"] for m in sim.data.get("metric") if m["attributes"]["name"] == "Placed Order"
    }
    for event in sim.data.get("event"):
        properties = event["attributes"]["event_properties"] or {}
        attribution = properties.get("$attribution") or {}
        metric = event["relationships"]["metric"]["data"]["id"]
        if metric not in order_metric or not attribution.get("$message"):
            continue
        flow = attribution.get("$flow")
        key = (names[flow or attribution["$message"]], "flow" if flow else "campaign")
        expected[key][0] += 1
        expected[key][1] += Decimal(str(properties["$value"]))
    got = {
        (name, kind): [orders, total] for name, kind, orders, total in answer(db, revenue, schema)
    }
    assert got == dict(expected) and got

    rows = answer(db, sizes, schema)
    segments = {s["attributes"]["name"] for s in sim.data.get("segment")}
    assert rows and {name for name, _, _ in rows} == segments

    list_name = next(
        lst["attributes"]["name"] for lst in sim.data.get("list") if lst["id"] == list_id
    )
    assert [(name, member) for name, member, _ in answer(db, left, schema)] == [
        (list_name, profile_id)
    ]

    with sim.data.lock:
        types = {
            t["attributes"]["title"]: len(
                sim.data.links_of("object-type", t["id"]).get("object-records", {})
            )
            for t in sim.data.get("object-type")
        }
    assert {title: n for title, n, _ in answer(db, objects, schema)} == types
    assert any(types.values())
