"""How good is the time left in the progress lines? A backfill of a million events.

The tap runs as its own process over a simulated account (events shaped like a growing
account by default: sparse early years, most events in the last two), with the quota cut
(`max_requests_per_minute_share`) so that the read is bound by Klaviyo's limit as a real
backfill is, not by this machine's CPU. Progress lines come every ``--every`` seconds.
For each line after the first minute, the time left it gives is compared with the time
the run really took from then on.

The baseline, measured in the same run: the time left a progress line would give from
the calendar alone (the share of the range up to the last record written, time so far
scaled by the share left), which is what a tap without the sample counts can say.

    .venv/bin/python benchmarks/bench_progress.py [--events 1000000] [--shape growth]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from klaviyo_sim import KlaviyoSimulator, SimData  # noqa: E402

LEFT = re.compile(r"Progress: events: .*about (?P<n>[\d.]+) (?P<unit>s|min|h) left")
UNITS = {"s": 1, "min": 60, "h": 3600}


def catalog(config_path: Path) -> Path:
    found = subprocess.run(
        [sys.executable, "-m", "tap_klaviyo.tap", "--config", str(config_path), "--discover"],
        capture_output=True,
        check=True,
    )
    entries = json.loads(found.stdout)
    for entry in entries["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = entry["tap_stream_id"] == "events"
    path = config_path.with_name("catalog.json")
    path.write_text(json.dumps(entries))
    return path


def run(sim: KlaviyoSimulator, every: float, share: float, tmp: Path) -> dict[str, Any]:
    config = {"api_key": sim.api_key, "api_url": sim.url, "progress_seconds": every}
    config["max_requests_per_minute_share"] = share
    config_path = tmp / "config.json"
    config_path.write_text(json.dumps(config))
    command = [sys.executable, "-m", "tap_klaviyo.tap", "--config", str(config_path)]
    command += ["--catalog", str(catalog(config_path))]
    started = time.monotonic()
    lines: list[tuple[float, float]] = []  # (seconds into the run, time left it said)
    written: list[tuple[float, str]] = []  # (seconds into the run, last event's datetime)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def read_records() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith(b'{"type":"RECORD"'):
                last = line
            else:
                continue
            if len(written) == 0 or time.monotonic() - started - written[-1][0] > 0.5:
                written.append((time.monotonic() - started, json.loads(last)["record"]["datetime"]))

    reader = threading.Thread(target=read_records)
    reader.start()
    assert process.stderr is not None
    for raw in process.stderr:
        match = LEFT.search(raw.decode(errors="replace"))
        if match:
            left = float(match["n"]) * UNITS[match["unit"]]
            lines.append((time.monotonic() - started, left))
    process.wait()
    reader.join()
    wall = time.monotonic() - started
    if process.returncode:
        raise SystemExit(f"the tap failed ({process.returncode})")
    return {"wall": wall, "lines": lines, "written": written}


def calendar_left(at: float, written: list[tuple[float, str]], start: datetime, end: datetime):
    """The time left from the calendar share of the last record written by ``at``."""
    seen = [value for when, value in written if when <= at]
    if not seen:
        return None
    reached = datetime.fromisoformat(seen[-1])
    share = (reached - start) / (end - start)
    return at * (1 - share) / share if share > 0 else None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--shape", default="growth")
    parser.add_argument("--every", type=float, default=15.0)
    parser.add_argument("--latency", type=float, default=0.1)
    # Of 3,500 requests a minute: 0.3 is about 3,500 events a second.
    parser.add_argument("--share", type=float, default=0.3)
    args = parser.parse_args()
    print(f"building simulator data: {args.events:,} events, {args.shape} ...", flush=True)
    data = SimData.bulk(events=args.events, profiles=1_000, shape=args.shape)
    keys = sorted(e["attributes"]["datetime"] for e in data.stored("event").values())
    start = datetime.fromisoformat(keys[0])
    with KlaviyoSimulator(data=data, latency=args.latency, rate_limits=True) as sim:
        end = datetime.fromisoformat(sim.data.now_iso())
        with tempfile.TemporaryDirectory() as tmp:
            result = run(sim, args.every, args.share, Path(tmp))
    wall = result["wall"]
    print(f"\n{args.events:,} events ({args.shape}) in {wall:.0f} s\n")
    print(f"{'at':>6}{'real left':>11}{'said':>8}{'ratio':>7}{'calendar':>10}{'ratio':>7}")
    ratios, baseline = [], []
    for at, said in result["lines"]:
        real = wall - at
        naive = calendar_left(at, result["written"], start, end)
        ratio = said / real if real > 0 else float("nan")
        naive_ratio = naive / real if naive is not None and real > 0 else float("nan")
        if at >= 60:
            ratios.append(ratio)
            baseline.append(naive_ratio)
        naive_text = f"{naive:>10.0f}" if naive is not None else f"{'n/a':>10}"
        print(f"{at:>6.0f}{real:>11.0f}{said:>8.0f}{ratio:>7.2f}{naive_text}{naive_ratio:>7.2f}")
    if ratios:
        worst = max(max(ratios), 1 / min(ratios))
        worst_naive = max(max(baseline), 1 / min(baseline))
        print(
            f"\nafter the first minute: time left within a factor of {worst:.2f} of the real "
            f"time left (goal: 2); the calendar alone: within {worst_naive:.2f}"
        )


if __name__ == "__main__":
    main()
