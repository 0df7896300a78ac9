"""Data shaped like the real API's (the simulator's reality layer): any subset of streams
syncs, nothing Klaviyo sent is missing from the records, and every record fits the last
SCHEMA sent for its stream before it."""

from __future__ import annotations

import random
from typing import Any

import pytest
import requests
from jsonschema import Draft7Validator, FormatChecker

from tap_klaviyo.tap import TapKlaviyo
from tests.conftest import TapRun, run_tap

ALL_STREAMS = sorted(
    s.name
    for s in TapKlaviyo(config={"api_key": "pk_streams"}, validate_config=False).streams.values()
    if s.selected_by_default
)


def assert_records_fit_the_schema_before_them(run: TapRun) -> None:
    assert "date-time" in FormatChecker.checkers, "install rfc3339-validator to check dates"
    validators: dict[str, Draft7Validator] = {}
    for message in run.messages:
        if message["type"] == "SCHEMA":
            validators[message["stream"]] = Draft7Validator(
                message["schema"], format_checker=FormatChecker()
            )
        elif message["type"] == "RECORD":
            validator = validators[message["stream"]]
            errors = sorted(validator.iter_errors(message["record"]), key=str)
            assert not errors, f"{message['stream']}: {errors[0].message}"


def test_a_full_sync_of_every_stream_completes(sim: Any, config: dict[str, Any]) -> None:
    run = run_tap(config, streams=ALL_STREAMS)
    assert set(run.records) == set(ALL_STREAMS)
    assert_records_fit_the_schema_before_them(run)


@pytest.mark.parametrize("seed", range(6))
def test_any_subset_of_streams_completes(sim: Any, config: dict[str, Any], seed: int) -> None:
    chosen = random.Random(seed).sample(ALL_STREAMS, k=random.Random(seed).randint(1, 8))
    run = run_tap(config, streams=chosen)
    assert set(run.records) <= set(chosen)
    assert_records_fit_the_schema_before_them(run)


def pages(sim: Any, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every resource of a collection, as Klaviyo (the simulator) sends it."""
    headers = {"Authorization": f"Klaviyo-API-Key {sim.api_key}", "revision": "2026-07-15"}
    url: str | None = f"{sim.url}{path}"
    found: list[dict[str, Any]] = []
    while url:
        body = requests.get(url, params=params, headers=headers, timeout=30).json()
        found += body["data"]
        url, params = body["links"].get("next"), {}
    return found


@pytest.mark.parametrize(
    ("stream", "path", "params"),
    [
        ("profiles", "/api/profiles", {}),
        ("events", "/api/events", {}),
        ("templates", "/api/templates", {}),
        ("metrics", "/api/metrics", {}),
        ("campaigns", "/api/campaigns", {"filter": "equals(messages.channel,'email')"}),
    ],
)
def test_no_attribute_klaviyo_sent_is_missing(
    sim: Any, config: dict[str, Any], stream: str, path: str, params: dict[str, str]
) -> None:
    sent = {resource["id"]: resource for resource in pages(sim, path, **params)}
    sim.reset_rate_limits()
    run = run_tap(config, streams=[stream])
    records = {record["id"]: record for record in run.records[stream]}
    assert sent.keys() <= records.keys()
    for resource_id, resource in sent.items():
        missing = resource["attributes"].keys() - records[resource_id].keys()
        assert not missing, f"{stream} {resource_id} lost {sorted(missing)}"
