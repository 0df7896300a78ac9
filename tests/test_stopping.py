"""A run ends promptly: under a permanent outage the tap exits non-zero once a stream has
given up, every time; after a SIGTERM it exits within seconds, after its last safe STATE,
and the next run resumes from that STATE without losing a record."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from klaviyo_sim import Fault, KlaviyoSimulator, SimData
from tap_klaviyo.errors import KlaviyoError
from tests.conftest import ROOT, catalog_for, run_tap, run_tap_until_failure

# Threads of the tap's own making; none may outlive a run.
TAP_THREADS = ("stream-", "-window", "-prefetch", "-slice")
STREAMS = ["events", "profiles", "lists", "list_members", "metrics", "metric_properties"]


def tap_threads(before: set[int]) -> list[str]:
    """The tap's threads started since ``before`` (idents of earlier threads)."""
    return [
        t.name
        for t in threading.enumerate()
        if t.ident not in before and any(p in t.name for p in TAP_THREADS)
    ]


def gone_within(seconds: float, before: set[int]) -> bool:
    deadline = time.monotonic() + seconds
    while tap_threads(before):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def outage_sim() -> Any:
    data = SimData.bulk(events=30_000, profiles=3_000)
    with KlaviyoSimulator(data=data, latency=0.01, reality=True) as sim:
        yield sim


@pytest.mark.usefixtures("fast_retries")
@pytest.mark.parametrize("attempt", range(8))
def test_a_permanent_outage_ends_the_run_promptly_every_time(outage_sim: Any, attempt: int) -> None:
    """Parallel time slices, child prefetch, worker processes and parallel streams all
    busy when Klaviyo starts answering 503 to everything, at a different moment each time."""
    sim = outage_sim
    sim.faults.clear()
    sim.reset_rate_limits()
    sim.faults.add(Fault(path_pattern=r"^/api/", status=503, after=5 + 7 * attempt, times=None))
    config = {
        "api_key": sim.api_key,
        "api_url": sim.url,
        "max_workers": 8,
        "render_processes": 2,
        "parallel_streams": 4,
    }
    before = {t.ident for t in threading.enumerate()}
    started = time.monotonic()
    run, error = run_tap_until_failure(config, streams=STREAMS)
    assert isinstance(error, KlaviyoError), error
    assert "gave up on GET /api/" in str(error) and "after 3 tries" in str(error)
    # The retries' worth (3 tries with a 0.01 s backoff factor), not minutes.
    assert time.monotonic() - started < 30
    assert gone_within(3, before), f"threads still running: {tap_threads(before)}"
    # Its last STATE covers only records written.
    for stream, records in run.records.items():
        mark = run.state.get("bookmarks", {}).get(stream, {}).get("replication_key_value")
        key = {"events": "datetime", "profiles": "updated"}.get(stream)
        if mark and key:
            assert mark <= max(r[key] for r in records)


def tap_command(tmp_path: Path, config: dict[str, Any], state: dict | None = None) -> list[str]:
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    catalog_file = tmp_path / "catalog.json"
    catalog_file.write_text(
        json.dumps(catalog_for(config, ["events", "profiles", "lists", "list_members"]))
    )
    command = [sys.executable, "-m", "tap_klaviyo.tap", "--config", str(config_file)]
    command += ["--catalog", str(catalog_file)]
    if state is not None:
        state_file = tmp_path / "state.json"
        state_file.write_text(json.dumps(state))
        command += ["--state", str(state_file)]
    return command


def messages(out: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]


@pytest.mark.parametrize("after_records", [1, 3_000, 12_000])
def test_a_sigterm_ends_the_run_within_seconds_after_its_last_safe_state(
    tmp_path: Path, after_records: int
) -> None:
    data = SimData.bulk(events=25_000, profiles=2_000)
    with KlaviyoSimulator(data=data, latency=0.2, reality=True) as sim:
        config = {"api_key": sim.api_key, "api_url": sim.url, "render_processes": 2}
        tap = subprocess.Popen(
            tap_command(tmp_path, config), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        out = b""
        assert tap.stdout is not None
        while out.count(b'"type":"RECORD"') < after_records:
            chunk = tap.stdout.read1(1 << 16)  # type: ignore[attr-defined]
            assert chunk, "the tap ended before it was stopped"
            out += chunk
        tap.send_signal(signal.SIGTERM)
        stopped = time.monotonic()
        rest, err = tap.communicate(timeout=30)
        assert time.monotonic() - stopped < 8, "the tap kept going after SIGTERM"
        out += rest
        assert tap.returncode == 1
        assert "The run stopped (received SIGTERM)" in err.decode()
        first = messages(out)
        assert first[-1]["type"] == "STATE", "nothing may follow the last STATE"
        state = first[-1]["value"]

        # The next run resumes from that STATE: with the first run's records, every
        # event and profile arrived.
        sim.reset_rate_limits()
        second = run_tap(config, streams=["events", "profiles"], state=state)
        for stream, kind in (("events", "event"), ("profiles", "profile")):
            written = {
                m["record"]["id"]
                for m in first
                if m.get("stream") == stream and m["type"] == "RECORD"
            }
            assert written | set(second.ids(stream)) == set(sim.data.ids(kind)), stream


def test_a_sigterm_ends_a_run_that_waits_on_a_silent_klaviyo(tmp_path: Path) -> None:
    """Requests that never answer (a read timeout of minutes) do not hold the exit up."""
    with KlaviyoSimulator(seed=0, reality=True) as sim:
        sim.faults.add(
            Fault(path_pattern=r"^/api/", kind="timeout", timeout_seconds=120, times=None)
        )
        config = {"api_key": sim.api_key, "api_url": sim.url}
        tap = subprocess.Popen(
            tap_command(tmp_path, config), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 30
        while len(sim.requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        tap.send_signal(signal.SIGTERM)
        stopped = time.monotonic()
        _, err = tap.communicate(timeout=30)
        assert time.monotonic() - stopped < 10
        assert tap.returncode == 1
        assert "The run stopped (received SIGTERM)" in err.decode()
