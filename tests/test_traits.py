"""What every stream mixes in: here, the account column of many-account projects."""

from __future__ import annotations

from typing import Any

from tests.conftest import run_tap

# Events render in worker processes, profiles on the tap's own path, tags as pairs.
STREAMS = ["events", "profiles", "lists", "list_tags", "tags", "list_members"]


def test_every_record_names_its_account_when_asked(config: dict[str, Any]) -> None:
    run = run_tap({**config, "account_id": "brand_eu", "render_processes": 2}, streams=STREAMS)
    for stream in STREAMS:
        records = run.records.get(stream, [])
        assert records, f"{stream} had records to check"
        assert run.schemas[stream]["schema"]["properties"]["account_id"] == {"type": ["string"]}
        assert {r["account_id"] for r in records} == {"brand_eu"}, stream


def test_without_the_setting_there_is_no_account_column(config: dict[str, Any]) -> None:
    run = run_tap(config, streams=STREAMS)
    for stream in STREAMS:
        assert "account_id" not in run.schemas[stream]["schema"]["properties"]
        assert all("account_id" not in r for r in run.records.get(stream, [])), stream
