"""The benchmark's ceiling reads every event exactly once."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

from klaviyo_sim import KlaviyoSimulator, SimData

ROOT = Path(__file__).resolve().parent.parent


def test_raw_reader_writes_each_event_once_as_it_arrived(tmp_path: Path) -> None:
    data = SimData.bulk(events=5_000, profiles=50)
    with KlaviyoSimulator(data=data, rate_limits=True) as sim:
        events = data.get("event")
        stamps = [e["attributes"]["datetime"] for e in events]
        end = datetime.fromisoformat(max(stamps)) + timedelta(seconds=1)
        out = tmp_path / "raw.jsonl"
        command = [sys.executable, str(ROOT / "benchmarks" / "raw_reader.py"), sim.url]
        command += [sim.api_key, min(stamps), end.isoformat(), str(out), "--workers", "4"]
        printed = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        throttled = [r for r in sim.requests if r.status == 429]
    assert json.loads(printed)["records"] == 5_000
    lines = out.read_bytes().splitlines()
    written = [json.loads(line) for line in lines]
    assert sorted(r["id"] for r in written) == sorted(e["id"] for e in events)
    first = next(r for r in written if r["id"] == events[0]["id"])
    assert first["attributes"]["datetime"] == events[0]["attributes"]["datetime"]
    assert throttled == []
