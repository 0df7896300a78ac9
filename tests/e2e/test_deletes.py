"""Deletes in Klaviyo reach PostgreSQL through ACTIVATE_VERSION (full-table streams only).

With ``emit_activate_version_messages`` the Singer SDK sends ACTIVATE_VERSION for every
FULL_TABLE stream (metrics, tags, and lists/segments while their member streams are
selected) and stamps that stream's records with the version. target-postgres, with
``activate_version: true`` and ``add_record_metadata: true``, then deletes (hard_delete) or
stamps ``_sdc_deleted_at`` on (soft) every row whose ``_sdc_table_version`` is older.

What was found (singer-sdk 0.54.9, meltanolabs-target-postgres 0.8.1):
* The SDK writes ACTIVATE_VERSION at the START of a full-table stream's sync, before its
  records. target-postgres acts on it at once: every existing row of the table is deleted
  (hard) or marked deleted (soft); the records that follow are upserted back (soft:
  ``_sdc_deleted_at`` reset to NULL). A successful run therefore ends right: only rows gone
  from Klaviyo are deleted/marked. But a run that fails inside such a stream leaves the
  whole table emptied (hard) or fully marked deleted (soft) until the next good run: see
  ``test_failed_run_keeps_rows`` (expected to fail while the SDK behaves this way).
* Incremental streams (profiles, events, campaigns, ...) get no ACTIVATE_VERSION: deletes
  there are not propagated, by design.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import column, count, sim_env

pytestmark = pytest.mark.e2e

TAP = str(Path(sys.executable).parent / "tap-klaviyo")
SETTING = "emit_activate_version_messages"


def _tap_accepts_setting() -> bool:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.json"
        config.write_text(
            json.dumps({"api_key": "pk_x", "api_url": "http://127.0.0.1:9", SETTING: True})
        )
        catalog = Path(tmp) / "catalog.json"
        catalog.write_text(json.dumps({"streams": []}))
        result = subprocess.run(
            [TAP, "--config", str(config), "--catalog", str(catalog)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    return f"Unknown setting `{SETTING}`" not in result.stderr


TAP_REJECTS = not _tap_accepts_setting()
needs_setting = pytest.mark.xfail(
    TAP_REJECTS,
    reason=f"tap-klaviyo rejects `{SETTING}` (check_settings: 'Unknown setting'), so no "
    "ACTIVATE_VERSION can be sent and deletes are not propagated",
    strict=True,
)


def _run(meltano, sim, schema, **extra):
    env = sim_env(sim, schema, TAP_KLAVIYO_EMIT_ACTIVATE_VERSION_MESSAGES="true", **extra)
    return meltano(
        "run",
        f"--state-id-suffix={schema}",
        "tap-klaviyo",
        "target-postgres",
        env=env,
        check=False,
    )


def _ok(result):
    assert result.returncode == 0, result.stderr[-6000:]


@needs_setting
@pytest.mark.parametrize("hard", [False, True], ids=["soft", "hard"])
def test_deleted_tag_and_metric_disappear(meltano, fresh_sim, db, schema, hard):
    sim = fresh_sim
    extra = {"TARGET_POSTGRES_HARD_DELETE": "true"} if hard else {}
    _ok(_run(meltano, sim, schema, **extra))
    tags, metrics = count(db, schema, "tags"), count(db, schema, "metrics")
    assert tags == sim.data.count("tag") and metrics == sim.data.count("metric")

    tag = sim.data.get("tag")[0]["id"]
    metric = sim.data.get("metric")[-1]["id"]
    sim.data.advance(3600)
    sim.data.delete("tag", tag)
    sim.data.delete("metric", metric)
    _ok(_run(meltano, sim, schema, **extra))

    live = "_sdc_deleted_at is null"
    if hard:
        assert column(db, schema, "tags", "id", f"id = '{tag}'") == []
        assert column(db, schema, "metrics", "id", f"id = '{metric}'") == []
        assert count(db, schema, "tags") == tags - 1
        assert count(db, schema, "metrics") == metrics - 1
    else:
        assert column(db, schema, "tags", "id", "_sdc_deleted_at is not null") == [tag]
        assert column(db, schema, "metrics", "id", "_sdc_deleted_at is not null") == [metric]
        assert count(db, schema, "tags") == tags  # kept, marked
    # Nothing else was lost or marked.
    assert set(column(db, schema, "tags", "id", live)) == set(sim.data.ids("tag"))
    assert set(column(db, schema, "metrics", "id", live)) == set(sim.data.ids("metric"))
    assert count(db, schema, "profiles", live) == sim.data.count("profile")
    assert count(db, schema, "lists", live) == sim.data.count("list")


@pytest.mark.xfail(
    reason="singer-sdk sends ACTIVATE_VERSION at the start of a full-table sync and "
    "target-postgres deletes/marks every older row on receipt: a run failing inside the "
    "stream leaves the table emptied (hard) or all rows marked deleted (soft)"
    + ("; and tap-klaviyo rejects the setting" if TAP_REJECTS else ""),
    strict=False,
)
@pytest.mark.parametrize("hard", [False, True], ids=["soft", "hard"])
def test_failed_run_keeps_rows(meltano, fresh_sim, db, schema, hard):
    from tests.klaviyo_sim import Fault

    sim = fresh_sim
    extra = {"TARGET_POSTGRES_HARD_DELETE": "true"} if hard else {}
    _ok(_run(meltano, sim, schema, **extra))
    tags = count(db, schema, "tags")
    assert tags == sim.data.count("tag")

    sim.faults.add(Fault(path_pattern=r"/api/tags$", status=400, times=None))
    failed = _run(meltano, sim, schema, **extra)
    assert failed.returncode != 0  # the run did fail

    # Nothing was deleted in Klaviyo, so nothing may be deleted or marked in PostgreSQL.
    assert count(db, schema, "tags", "_sdc_deleted_at is null") == tags
