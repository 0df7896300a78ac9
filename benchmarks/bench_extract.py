"""Extraction speed against the simulator with Klaviyo's real rate limits and latency.

    python benchmarks/bench_extract.py [--events 200000] [--profiles 50000] [--latency 0.2]
                                       [--rss-events 1000000]

One run prints, side by side:
  * events with the default settings, with render_processes=0 (records made in the
    tap's own process), with max_workers=1, and through the SDK's generic record
    path (a no-op stream map turns the lean path off);
  * a raw concurrent reader (benchmarks/raw_reader.py, its own process) that only
    fetches pages and writes each resource's bytes as a line, under the same rate
    limits: the ceiling (events with the defaults and the raw reader: each the median of
    three runs, taken in turns, as figures here move by 15% from one run to the next);
  * profiles/s against the API ceiling (750 requests/min x 100 profiles);
  * 429s seen, tap CPU per record and peak RSS (the tap and its worker processes);
  * a full sync (the default selection: every stream but the reports) against the
    slowest single endpoint;
  * peak RSS of an events run over --rss-events events (0 skips it);
  * per data shape (uniform; a growth curve with sparse early years and an empty year; the
    same with a bulk import of 20,000 profiles and 20,000 events in one second each):
    profiles/s in the steady state (after the first minute, whose burst allowance lets
    750 requests through) against the 1,250/s ceiling, events against the raw reader
    given the data's quantiles, average requests in flight, and 429s.
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
# An installed tap starts from compiled bytecode; a machine that turns writing it off
# (PYTHONDONTWRITEBYTECODE) would have every run compile its modules again (about
# 0.1-0.2 s of each start here), so the runs here keep their bytecode in a directory
# of their own, written by the first (untimed) run.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["PYTHONPYCACHEPREFIX"] = str(TMP / "pycache")


def discover(config_path: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "tap_klaviyo.tap", "--config", str(config_path), "--discover"],
        capture_output=True,
        text=True,
        check=True,
        env=ENV,
    )
    return json.loads(out.stdout)


class PeakRSS:
    """Peak memory of the tap and its worker processes, in MB.

    The larger of two figures: the tap's own VmHWM (exact, for that process alone)
    and the highest sum of proportional set sizes (Pss: pages a worker shares with
    the tap since the fork count once, split between them) seen every 50 ms: often
    enough for buffers that fill over seconds; more often, the sampler's reads slow
    the process it measures.
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
            time.sleep(0.05)

    def stop(self) -> float:
        self._thread.join(timeout=1)
        return max(self.hwm, self.pss) / 1024


def run_tap(
    sim: KlaviyoSimulator,
    streams: list[str] | None,
    steady_after: float | None = None,
    **settings: Any,
) -> dict[str, Any]:
    """Run the tap as its own process; return wall time, CPU, RSS and record counts.

    ``streams=None`` keeps the tap's default selection (every stream but the reports).
    With ``steady_after``, ``steady_rate`` is records/s written after that many seconds.
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
    # The tap writes straight to a file, as the raw reader does: a thread of this process
    # copying its stdout would take the interpreter lock from the simulator's threads
    # (about 1.5 s of a 10 s events run). A sampler notes how far the file has grown.
    sizes: list[tuple[float, int]] = []
    with out_path.open("wb") as out, log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=out, stderr=log, env=ENV)
        rss = PeakRSS(process.pid)
        exited = threading.Event()
        sampler = threading.Thread(target=_sample, args=(out_path, started, sizes, exited))
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        exited.set()
        sampler.join()
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
    steady = None
    if steady_after is not None and wall > steady_after + 10:
        reached = max((size for t, size in sizes if t <= steady_after), default=0)
        with out_path.open("rb") as lines:
            before = lines.read(reached).count(b'{"type":"RECORD"')
        steady = (total - before) / max(wall - steady_after, 1e-9)
    return {
        "steady_rate": steady,
        "in_flight": len(sim.requests) * sim.latency / wall,
        "wall": wall,
        "records": total,
        "counts": counts,
        "rate": total / wall,
        "cpu_us": cpu / max(total, 1) * 1e6,
        "rss_mb": rss.stop(),
        "throttled": sum(1 for r in sim.requests if r.status == 429),
        "requests": len(sim.requests),
    }


def _sample(
    path: Path, started: float, sizes: list[tuple[float, int]], exited: threading.Event
) -> None:
    """How many bytes the tap had written when, every 0.1 s until it exits."""
    while not exited.wait(0.1):
        sizes.append((time.perf_counter() - started, path.stat().st_size))


def raw_reader(sim: KlaviyoSimulator, oracle: bool = False) -> dict[str, Any]:
    """The ceiling; with ``oracle`` its slices hold equal numbers of events."""
    sim.requests.clear()
    sim.reset_rate_limits()
    stamps = sorted(
        datetime.fromisoformat(e["attributes"]["datetime"].replace(" ", "T"))
        for e in sim.data.get("event")
    )
    first = stamps[0].isoformat()
    end = (stamps[-1] + timedelta(seconds=1)).isoformat()
    command = [sys.executable, str(ROOT / "benchmarks" / "raw_reader.py"), sim.url, sim.api_key]
    command += [first, end, str(TMP / "raw.jsonl")]
    if oracle:
        slices = 64
        edges = {stamps[len(stamps) * i // slices].replace(microsecond=0) for i in range(1, slices)}
        path = TMP / "edges.json"
        path.write_text(json.dumps(sorted(e.isoformat() for e in edges)))
        command += ["--edges", str(path)]
    started = time.perf_counter()
    with (TMP / "raw.out").open("wb") as out:
        process = subprocess.Popen(command, stdout=out, env=ENV)
        # Sampled as the tap is: the sampler's reads of /proc cost the measured process.
        rss = PeakRSS(process.pid)
        _, status, usage = os.wait4(process.pid, 0)
    # From launch to exit, as the tap is timed: both pay for starting Python.
    wall = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"the raw reader failed ({status})")
    result = json.loads((TMP / "raw.out").read_text())
    result["wall"] = wall
    result["cpu_us"] = (usage.ru_utime + usage.ru_stime) / max(result["records"], 1) * 1e6
    result["rss_mb"] = rss.stop()
    result["rate"] = result["records"] / wall
    result["throttled"] = sum(1 for r in sim.requests if r.status == 429)
    result["in_flight"] = len(sim.requests) * sim.latency / wall
    return result


def simulator(
    events: int, profiles: int, latency: float, shape: str = "uniform", reality: bool = True
) -> KlaviyoSimulator:
    data = SimData.bulk(events=events, profiles=profiles, shape=shape)
    # Rendered resources are reused across runs, so the server (one Python process on
    # the same machine) spends its CPU on queries and leaves the rest to the tap.
    sim = KlaviyoSimulator(
        data=data, rate_limits=True, latency=latency, render_cache=300_000, reality=reality
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


# Runs of the tap and of the raw reader, taken in turns: figures on a shared 2-core machine
# move by 15% or more from one run to the next, so each side's median of several.
PAIRED_RUNS = 3


def paired(sim: KlaviyoSimulator, oracle: bool = False) -> tuple[dict, dict]:
    """The events tap with its defaults and the raw reader, PAIRED_RUNS times each in
    turns; each side's median run by wall time."""
    taps, raws = [], []
    for _ in range(PAIRED_RUNS):
        taps.append(run_tap(sim, ["events"]))
        raws.append(raw_reader(sim, oracle=oracle))

    def median(runs: list[dict]) -> dict:
        return sorted(runs, key=lambda r: r["wall"])[len(runs) // 2]

    return median(taps), median(raws)


SHAPES = ("uniform", "growth", "bulk_import")
PROFILES_CEILING = 750 * 100 / 60  # 750 requests a minute of 100 profiles


def shapes(events: int, profiles: int, latency: float) -> None:
    """Events and profiles on each shape of account data, in the steady state."""
    rows = {}
    for shape in SHAPES:
        print(f"building simulator data: {events} events, {profiles} profiles, {shape} ...")
        sim = simulator(events, profiles, latency, shape)
        rows[shape] = {}
        if events:
            run_tap(sim, ["events"])  # untimed: warms the render cache
            rows[shape]["events"], rows[shape]["raw"] = paired(sim, oracle=True)
        rows[shape]["profiles"] = run_tap(sim, ["profiles"], steady_after=60)
        sim.stop()
    print(
        f"\n{'shape':<13}{'profiles/s':>11}{'of 1250/s':>10}{'in flight':>10}{'429s':>6}"
        f"{'events/s':>10}{'raw/s':>9}{'of raw':>8}{'in flight':>10}{'429s':>6}"
    )
    for shape, r in rows.items():
        steady = r["profiles"]["steady_rate"]
        share = f"{steady / PROFILES_CEILING:.0%}" if steady else "n/a"
        cells = (
            f"{shape:<13}{steady or 0:>11.0f}{share:>10}"
            f"{r['profiles']['in_flight']:>10.1f}{r['profiles']['throttled']:>6}"
        )
        if "events" in r:
            cells += (
                f"{r['events']['rate']:>10.0f}{r['raw']['rate']:>9.0f}"
                f"{r['events']['rate'] / r['raw']['rate']:>8.0%}"
                f"{r['events']['in_flight']:>10.1f}"
                f"{r['events']['throttled'] + r['raw']['throttled']:>6}"
            )
        print(cells)
    print(
        "\nprofiles/s: records written after the first minute (whose burst allowance lets 750 "
        "requests through) over the time after it; goal >= 85% of 1,250/s on every shape.\n"
        "events vs raw: the raw reader gets slices cut at the data's quantiles (equal records "
        "each), which no real client knows; goal >= 80%. In flight: requests x latency / wall."
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--profiles", type=int, default=50_000)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--rss-events", type=int, default=1_000_000)
    parser.add_argument(
        "--shape-profiles",
        type=int,
        default=250_000,
        help="profiles per data shape: enough for over three minutes at the quota ceiling "
        "(0: no shapes)",
    )
    parser.add_argument("--shapes-only", action="store_true")
    parser.add_argument(
        "--shape-events",
        type=int,
        help="events per data shape (default: --events; 0: profiles only)",
    )
    args = parser.parse_args()
    shape_events = args.events if args.shape_events is None else args.shape_events
    if args.shapes_only:
        shapes(shape_events, args.shape_profiles, args.latency)
        return

    print(f"building simulator data: {args.events} events, {args.profiles} profiles ...")
    sim = simulator(args.events, args.profiles, args.latency)
    print(f"simulator: real rate limits, {args.latency * 1000:.0f} ms per request\n")

    # Untimed: fills the simulator's render cache, so every timed run finds it warm.
    run_tap(sim, ["events", "profiles"])
    noop_map = {"stream_maps": {"events": {"id": "id"}}}
    events, raw = paired(sim)
    results = {
        "events, default settings": events,
        "events, render_processes=0": run_tap(sim, ["events"], render_processes=0),
        "events, max_workers=1": run_tap(sim, ["events"], max_workers=1),
        "events, SDK record path": run_tap(sim, ["events"], **noop_map),
        "raw concurrent reader": raw,
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
    ceiling = PROFILES_CEILING
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
    print()
    if args.shape_profiles:
        shapes(shape_events, args.shape_profiles, args.latency)


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
    main()
