"""Attributes Klaviyo sends beyond the schema reach PostgreSQL: target-postgres adds or
widens the column on the tap's new SCHEMA, the rows load, and the next run is fine."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import column, column_types, count, sim_env

pytestmark = pytest.mark.e2e


def test_a_new_attribute_and_a_new_type_reach_postgres(meltano, fresh_sim, db, schema):
    sim = fresh_sim
    env = sim_env(sim, schema, select=["lists", "profiles"])
    run = ("run", f"--state-id-suffix={schema}", "tap-klaviyo", "target-postgres")
    meltano(*run, env=env)
    assert "favorite_color" not in column_types(db, schema, "lists")
    # Attributes Klaviyo is known to send beyond its spec are columns from the start, and
    # filled (the simulator's reality layer sends profiles' anonymous_id).
    assert count(db, schema, "profiles", "anonymous_id is not null") > 0

    sim.data.advance(3600)
    target = sorted(sim.data.ids("list"))[2]
    sim.data.update("list", target, favorite_color="teal", opt_in_process=7)
    meltano(*run, env=env)

    types = column_types(db, schema, "lists")
    assert "favorite_color" in types
    assert column(db, schema, "lists", "favorite_color", f"id = '{target}'") == ["teal"]
    assert [str(v) for v in column(db, schema, "lists", "opt_in_process", f"id = '{target}'")] == [
        "7"
    ]
    assert count(db, schema, "lists") == sim.data.count("list")

    # The next run, with the widened table and nothing new, is fine too.
    sim.data.advance(3600)
    meltano(*run, env=env)
    assert count(db, schema, "lists") == sim.data.count("list")
