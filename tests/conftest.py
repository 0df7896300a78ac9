"""Shared fixtures: a running Klaviyo simulator and helpers to run the tap against it."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from klaviyo_sim.clock import VirtualClock
from tap_klaviyo.dates import CLOCK
from tap_klaviyo.tap import TapKlaviyo
from tap_klaviyo.transport.policy import RETRY
from tap_klaviyo.transport.ratelimit import LIMITERS

ROOT = Path(__file__).resolve().parent.parent


def pytest_itemcollected(item: pytest.Item) -> None:
    # A test that needs the real PostgreSQL is end-to-end, whether or not its module says
    # so, and under xdist all of them run on one worker: they run Meltano in the one
    # project of the checkout (its .meltano/run files are per project, so two at once
    # garble each other's catalog). Marked as collected, before xdist's
    # pytest_collection_modifyitems reads the groups.
    if "postgres" in getattr(item, "fixturenames", ()):
        item.add_marker(pytest.mark.e2e)
        item.add_marker(pytest.mark.xdist_group("e2e"))


@dataclass
class TapRun:
    """What one tap run wrote to stdout, parsed."""

    messages: list[dict[str, Any]]
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    schemas: dict[str, dict[str, Any]] = field(default_factory=dict)
    states: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def parse(cls, lines: list[str]) -> TapRun:
        run = cls(messages=[])
        for line in lines:
            if not line.strip():
                continue
            message = json.loads(line)
            run.messages.append(message)
            if message["type"] == "RECORD":
                run.records.setdefault(message["stream"], []).append(message["record"])
            elif message["type"] == "SCHEMA":
                run.schemas[message["stream"]] = message
            elif message["type"] == "STATE":
                run.states.append(message["value"])
        return run

    @property
    def state(self) -> dict[str, Any]:
        return self.states[-1] if self.states else {}

    def ids(self, stream: str, key: str = "id") -> list[Any]:
        return [record[key] for record in self.records.get(stream, [])]


def catalog_for(config: dict[str, Any], streams: list[str] | None) -> dict[str, Any]:
    """The discovered catalog with only ``streams`` selected.

    None selects what a catalog without choices would: every stream that is
    selected by default (report streams, which spend a daily quota, are not).
    """
    catalog = TapKlaviyo(config=config, validate_config=False).catalog_dict
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                fields = metadata["metadata"]
                if streams is None:
                    selected = fields.get("selected-by-default", True)
                else:
                    selected = entry["tap_stream_id"] in streams
                fields["selected"] = selected
    return catalog


def run_tap(
    config: dict[str, Any],
    *,
    streams: list[str] | None = None,
    state: dict[str, Any] | None = None,
) -> TapRun:
    """Run the tap in this process and parse its Singer output."""
    run, error = run_tap_until_failure(config, streams=streams, state=state)
    if error is not None:
        raise error
    return run


def run_tap_until_failure(
    config: dict[str, Any],
    *,
    streams: list[str] | None = None,
    state: dict[str, Any] | None = None,
) -> tuple[TapRun, Exception | None]:
    """Run the tap; return what it wrote before it stopped, and why it stopped."""
    out = io.StringIO()
    error = None
    # A run is a fresh process in production: its rate limiters start with empty
    # windows (endpoints such as metric-properties allow only 15 requests a minute).
    LIMITERS.reset()
    tap = TapKlaviyo(config=config, state=state, catalog=catalog_for(config, streams))
    with redirect_stdout(out):
        try:
            tap.sync_all()
        except Exception as exc:
            error = exc
    return TapRun.parse(out.getvalue().splitlines()), error


def run_cli(
    args: list[str], *, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``tap-klaviyo`` command as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "tap_klaviyo.tap", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def tap() -> TapKlaviyo:
    """A tap that sends nothing: its streams answer questions about their requests."""
    return TapKlaviyo(config={"api_key": "pk_unit"})


@pytest.fixture
def sim() -> Iterator[Any]:
    from klaviyo_sim import KlaviyoSimulator

    with KlaviyoSimulator(seed=0, reality=True) as simulator:
        yield simulator


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep backoff waits short so failure paths run in test time."""
    monkeypatch.setattr(RETRY, "backoff_factor_seconds", 0.01)
    monkeypatch.setattr(RETRY, "max_tries", 3)


@pytest.fixture
def bulk_sim() -> Iterator[Any]:
    """Start simulators with many generated records: ``bulk_sim(events=.., profiles=..)``."""
    from klaviyo_sim import KlaviyoSimulator, SimData

    started: list[Any] = []

    def start(**sizes: int) -> Any:
        simulator = KlaviyoSimulator(data=SimData.bulk(**sizes), reality=True).start()
        started.append(simulator)
        return simulator

    yield start
    for simulator in started:
        simulator.stop()


@pytest.fixture
def config(sim: Any) -> dict[str, Any]:
    return {"api_key": sim.api_key, "api_url": sim.url}


@pytest.fixture
def write_json(tmp_path: Path):
    def write(name: str, content: Any) -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(content), encoding="utf-8")
        return path

    return write


@pytest.fixture
def virtual_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[VirtualClock]:
    """The tap's rate limiters wait on a clock that moves at once: quotas of a few requests
    a minute cost no real time (the simulator, unless told otherwise, enforces none)."""
    virtual = VirtualClock()
    monkeypatch.setattr(CLOCK, "monotonic", virtual)
    monkeypatch.setattr(CLOCK, "sleep", virtual.sleep)
    LIMITERS.reset()
    yield virtual
    LIMITERS.reset()
