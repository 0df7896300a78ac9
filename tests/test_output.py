"""The lean record path emits exactly what the SDK path would, and every record fits
its stream's schema."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft7Validator, FormatChecker

from tap_klaviyo.client import KlaviyoStream
from tap_klaviyo.write.paths import Output
from tests.conftest import run_tap


def test_lean_path_matches_the_sdk_path(
    sim: Any, config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    lean = run_tap(config)
    monkeypatch.setattr(KlaviyoStream, "output", Output.SDK)
    # A later run starts with fresh quotas (metric-properties allows 15 requests a minute).
    sim.reset_rate_limits()
    plain = run_tap(config)
    assert lean.records.keys() == plain.records.keys()
    for stream, records in plain.records.items():
        assert lean.records[stream] == records, stream
    # When each run began (a full read of members) is the one thing that differs.
    for run in (lean, plain):
        for entry in run.state["bookmarks"].values():
            entry.pop("full_refreshed_at", None)
    assert lean.state == plain.state


def test_every_record_validates_against_its_schema(sim: Any, config: dict[str, Any]) -> None:
    assert "date-time" in FormatChecker.checkers, "install rfc3339-validator to check dates"
    run = run_tap(config)
    assert len(run.records) == len(run.schemas)
    for stream, records in run.records.items():
        validator = Draft7Validator(run.schemas[stream]["schema"], format_checker=FormatChecker())
        for record in records:
            errors = sorted(validator.iter_errors(record), key=str)
            assert not errors, f"{stream} {record.get('id')}: {errors[0].message}"
