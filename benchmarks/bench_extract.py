"""Extraction speed against the simulator with Klaviyo's real rate limits and latency.

    python benchmarks/bench_extract.py [--events 200000] [--profiles 50000] [--latency 0.2]
                                       [--rss-events 1000000]

One run prints, side by side:
  * events with the default settings, with render_processes=0 (records made in the
    tap's own process), with max_workers=1, and through the SDK's generic record
    path (a no-op stream map turns the lean path off);
  * a raw concurrent reader (benchmarks/raw_reader.py, its own process) that only
    fetches pages and writes each resource's bytes as a line, under the same rate
    limits: the ceiling;
  * profiles/s against the API ceiling (750 requests/min x 100 profiles);
  * 429s seen, tap CPU per record and peak RSS (the tap and its worker processes);
  * a full sync (the default selection: every stream but the reports) against the
    slowest single endpoint;
  * peak RSS of an events run over --rss-events events (0 skips it).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from klaviyo_sim import KlaviyoSimulator, SimData

ROOT = Path(__file__).resolve().parent.parent

TMP = Path(tempfile.mkdtemp(prefix="tap-klaviyo-bench-"))
# The simulator's pages are built in this process; the tap and the raw reader
# each run in their own, so neither shares an interpreter lock with the server.


def discover(config_path: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "tap_klaviyo.tap", "--config", str(config_path), "--discover"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


class PeakRSS:
    """Peak memory of the tap and its worker processes, in MB.

    The larger of two figures: the tap's own VmHWM (exact, for that process alone)
    and the highest sum of proportional set sizes (Pss: pages a worker shares with
    the tap since the fork count once, split between them) seen every 20 ms.
    ``ru_maxrss`` from wait4 would count the moments between fork and exec, when the
    child is still a copy of this process and its simulator data.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.hwm = 0
        self.pss = 0
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    @staticmethod
    def _field(path: Path, name: str) -> int | None:
        try:
            text = path.read_text()
        except OSError:
            return None
        for line in text.splitlines():
            if line.startswith(name):
                return int(line.split()[1])
        return None  # a zombie: no memory left to measure

    def _children(self) -> list[int]:
        pids = []
        for task in Path(f"/proc/{self.pid}/task").glob("*/children"):
            try:
                pids += [int(p) for p in task.read_text().split()]
            except OSError:
                continue
        return pids

    def _poll(self) -> None:
        while True:
            hwm = self._field(Path(f"/proc/{self.pid}/status"), "VmHWM:")
            if hwm is None:
                return
            self.hwm = max(self.hwm, hwm)
            pss = [
                self._field(Path(f"/proc/{pid}/smaps_rollup"), "Pss:")
                for pid in [self.pid, *self._children()]
            ]
            self.pss = max(self.pss, sum(p for p in pss if p))
            time.sleep(0.02)

    def stop(self) -> float:
        self._thread.join(timeout=1)
        return max(self.hwm, self.pss) / 1024


def run_tap(sim: KlaviyoSimulator, streams: list[str] | None, **settings: Any) -> dict[str, Any]:
    """Run the tap as its own process; return wall time, CPU, RSS and record counts.

    ``streams=None`` keeps the tap's default selection (every stream but the reports).
    """
    config = {"api_key": sim.api_key, "api_url": sim.url, **settings}
    config_path = TMP / "config.json"
    config_path.write_text(json.dumps(config))
    catalog = discover(config_path)
    if streams is not None:
        for entry in catalog["streams"]:
            for metadata in entry["metadata"]:
                if metadata["breadcrumb"] == []:
                    metadata["metadata"]["selected"] = entry["tap_stream_id"] in streams
    catalog_path = TMP / "catalog.json"
    catalog_path.write_text(json.dumps(catalog))
    sim.requests.clear()
    sim.reset_rate_limits()
    out_path = TMP / "out.jsonl"
    command = [sys.executable, "-m", "tap_klaviyo.tap", "--config", str(config_path)]
    command += ["--catalog", str(catalog_path)]
    started = time.perf_counter()
    log_path = TMP / "tap.log"
    with out_path.open("wb") as out, log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=out, stderr=log)
        rss = PeakRSS(process.pid)
        _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if status != 0:
        tail = log_path.read_text(errors="replace").splitlines()[-5:]
        raise SystemExit(f"tap failed ({status}) with {settings}:\n" + "\n".join(tail))
    counts: dict[str, int] = {}
    with out_path.open("rb") as lines:
        for line in lines:
            if line.startswith(b'{"type":"RECORD"'):
                stream = json.loads(line)["stream"]
                counts[stream] = counts.get(stream, 0) + 1
    total = sum(counts.values())
    cpu = usage.ru_utime + usage.ru_stime
    return {
        "wall": wall,
        "records": total,
        "counts": counts,
        "rate": total / wall,
        "cpu_us": cpu / max(total, 1) * 1e6,
        "rss_mb": rss.stop(),
        "throttled": sum(1 for r in sim.requests if r.status == 429),
        "requests": len(sim.requests),
    }


def raw_reader(sim: KlaviyoSimulator) -> dict[str, Any]:
    sim.requests.clear()
    sim.reset_rate_limits()
    events = sim.data.get("event")
    first = min(e["attributes"]["datetime"] for e in events)
    last = max(e["attributes"]["datetime"] for e in events)
    end = (datetime.fromisoformat(last) + timedelta(seconds=1)).isoformat()
    command = [sys.executable, str(ROOT / "benchmarks" / "raw_reader.py"), sim.url, sim.api_key]
    command += [first, end, str(TMP / "raw.jsonl")]
    started = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    # From launch to exit, as the tap is timed: both pay for starting Python.
    wall = time.perf_counter() - started
    result = json.loads(out.stdout)
    result["wall"] = wall
    result["rate"] = result["records"] / wall
    result["throttled"] = sum(1 for r in sim.requests if r.status == 429)
    return result


def simulator(events: int, profiles: int, latency: float) -> KlaviyoSimulator:
    data = SimData.bulk(events=events, profiles=profiles)
    # Rendered resources are reused across runs, so the server (one Python process on
    # the same machine) spends its CPU on queries and leaves the rest to the tap.
    sim = KlaviyoSimulator(
        data=data, rate_limits=True, latency=latency, render_cache=300_000
    ).start()
    data.get("event")  # materialise lazily generated data before timing
    data.get("profile")
    return sim


def row(name: str, r: dict[str, Any]) -> str:
    cells = f"{name:<30}{r['records']:>9}{r['wall']:>9.1f}{r['rate']:>10.0f}"
    if "cpu_us" in r:
        cells += f"{r['cpu_us']:>12.1f}{r['rss_mb']:>8.0f}"
    else:
        cells += f"{'':>12}{'':>8}"
    return cells + f"{r['throttled']:>6}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--profiles", type=int, default=50_000)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--rss-events", type=int, default=1_000_000)
    args = parser.parse_args()

    print(f"building simulator data: {args.events} events, {args.profiles} profiles ...")
    sim = simulator(args.events, args.profiles, args.latency)
    print(f"simulator: real rate limits, {args.latency * 1000:.0f} ms per request\n")

    # Untimed: fills the simulator's render cache, so every timed run finds it warm.
    run_tap(sim, ["events", "profiles"])
    noop_map = {"stream_maps": {"events": {"id": "id"}}}
    results = {
        "events, default settings": run_tap(sim, ["events"]),
        "events, render_processes=0": run_tap(sim, ["events"], render_processes=0),
        "events, max_workers=1": run_tap(sim, ["events"], max_workers=1),
        "events, SDK record path": run_tap(sim, ["events"], **noop_map),
        "raw concurrent reader": raw_reader(sim),
        "profiles, default settings": run_tap(sim, ["profiles"]),
        "metrics + metric_properties": run_tap(sim, ["metrics", "metric_properties"]),
        "full sync, default selection": run_tap(sim, None),
    }
    sim.stop()
    if args.rss_events:
        print(f"building simulator data: {args.rss_events} events ...")
        sim = simulator(args.rss_events, 1000, args.latency)
        results[f"events, {args.rss_events:,}"] = run_tap(sim, ["events"])
        sim.stop()

    print(
        f"\n{'run':<30}{'records':>9}{'wall s':>9}{'rec/s':>10}{'CPU us/rec':>12}"
        f"{'RSS MB':>8}{'429s':>6}"
    )
    for name, result in results.items():
        print(row(name, result))

    default = results["events, default settings"]
    raw = results["raw concurrent reader"]
    profiles = results["profiles, default settings"]
    full = results["full sync, default selection"]
    singles = {
        "events": default["wall"],
        "profiles": profiles["wall"],
        "metric_properties": results["metrics + metric_properties"]["wall"],
    }
    slowest = max(singles, key=singles.__getitem__)
    ceiling = 750 * 100 / 60
    print("\nagainst the baselines measured in this run:")
    print(f"  events vs raw reader:         {default['rate'] / raw['rate']:.0%} (target >= 80%)")
    print(
        f"  events vs render_processes=0: "
        f"{default['rate'] / results['events, render_processes=0']['rate']:.1f}x"
    )
    print(
        f"  events vs max_workers=1:      "
        f"{default['rate'] / results['events, max_workers=1']['rate']:.1f}x"
    )
    print(
        f"  CPU per event, lean vs SDK:   {default['cpu_us']:.1f} vs "
        f"{results['events, SDK record path']['cpu_us']:.1f} us (target <= 25)"
    )
    print(
        f"  profiles vs API ceiling:      {profiles['rate'] / ceiling:.0%} of {ceiling:.0f}/s "
        "(target >= 85%)"
    )
    print(f"  429s in the full sync:        {full['throttled']} (target 0)")
    print(
        f"  full sync vs slowest stream:  {full['wall'] / singles[slowest]:.2f}x "
        f"({full['wall']:.1f}s vs {slowest} {singles[slowest]:.1f}s; target <= 1.2x)"
    )
    if args.rss_events:
        big = results[f"events, {args.rss_events:,}"]
        print(f"  peak RSS, {args.rss_events:,} events:  {big['rss_mb']:.0f} MB (target <= 250)")
        # Start-up (imports, schemas, catalog) costs the same in both runs, so the
        # difference is what each further event costs.
        extra_cpu = big["cpu_us"] * big["records"] - default["cpu_us"] * default["records"]
        extra = big["records"] - default["records"]
        if extra > 0:
            print(f"  CPU per further event:        {extra_cpu / extra:.1f} us (start-up excluded)")


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
    main()
