"""SIGKILL at random points, resume from the last STATE: nothing is ever lost."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from klaviyo_sim import KlaviyoSimulator, SimData
from tests.conftest import ROOT, TapRun, catalog_for, run_tap

STREAMS = ["events", "profiles"]
RUNS = 20


@pytest.fixture(scope="module")
def crash_sim() -> Iterator[KlaviyoSimulator]:
    data = SimData.bulk(events=5000, profiles=1500)
    with KlaviyoSimulator(data=data, latency=0.005, reality=True) as simulator:
        yield simulator


def killed_run(config_path: Path, catalog_path: Path, state_path: Path, after: int) -> TapRun:
    """Run the tap and SIGKILL it once ``after`` lines of output have reached us."""
    command = [sys.executable, "-m", "tap_klaviyo.tap", "--config", str(config_path)]
    command += ["--catalog", str(catalog_path), "--state", str(state_path)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT)
    assert process.stdout is not None
    received = []
    for line in process.stdout:
        received.append(line)
        if len(received) >= after:
            break
    process.send_signal(signal.SIGKILL)
    rest, _ = process.communicate()
    lines = b"".join([*received, rest]).decode(errors="replace").split("\n")
    # The line being written when the process died may be cut short.
    complete = [line for line in lines[:-1] if line]
    return TapRun.parse(complete)


def written_before_last_state(run: TapRun) -> dict[str, set[str]]:
    seen: dict[str, set[str]] = {s: set() for s in STREAMS}
    safe: dict[str, set[str]] = {s: set() for s in STREAMS}
    for message in run.messages:
        if message["type"] == "RECORD":
            seen[message["stream"]].add(message["record"]["id"])
        elif message["type"] == "STATE":
            safe = {s: set(ids) for s, ids in seen.items()}
    return safe


@pytest.mark.parametrize("seed", range(RUNS))
def test_sigkill_then_resume_loses_nothing(
    crash_sim: KlaviyoSimulator, tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    config = {"api_key": crash_sim.api_key, "api_url": crash_sim.url}
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    catalog_path = tmp_path / "catalog.json"
    catalog_path.write_text(json.dumps(catalog_for(config, STREAMS)))
    state: dict[str, Any] = {}
    kept: dict[str, set[str]] = {s: set() for s in STREAMS}
    # Kill it up to twice in a row, each time resuming from the last STATE it wrote.
    for _ in range(rng.randint(1, 2)):
        state_path = tmp_path / "state.json"
        state_path.write_text(json.dumps(state))
        cut = killed_run(config_path, catalog_path, state_path, rng.randint(1, 6500))
        for stream, ids in written_before_last_state(cut).items():
            kept[stream] |= ids
        state = cut.state or state
    final = run_tap(config, streams=STREAMS, state=state)
    for stream in STREAMS:
        expected = set(crash_sim.data.ids(stream.rstrip("s")))
        assert kept[stream] | set(final.ids(stream)) == expected, stream
