"""Extraction speed against the simulator with Klaviyo's real rate limits and latency.

    python benchmarks/bench_extract.py [--events 200000] [--profiles 50000] [--latency 0.2]

One run prints, side by side:
  * events with the default settings, with max_workers=1, and through the SDK's
    generic record path (a no-op stream map turns the lean path off);
  * a raw concurrent reader that only fetches pages and writes JSON lines under
    the same rate limits: the ceiling on this machine;
  * profiles/s against the API ceiling (750 requests/min x 100 profiles);
  * 429s seen, tap CPU per record and peak RSS of the tap process;
  * a full sync of every stream against its slowest single stream.
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
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tap_klaviyo.ratelimit import RateLimiter  # noqa: E402
from tests.klaviyo_sim import KlaviyoSimulator, SimData  # noqa: E402

TMP = Path(tempfile.mkdtemp(prefix="tap-klaviyo-bench-"))


def discover(config_path: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "tap_klaviyo.tap", "--config", str(config_path), "--discover"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def run_tap(sim: KlaviyoSimulator, streams: list[str] | None, **settings: Any) -> dict[str, Any]:
    """Run the tap as its own process; return wall time, CPU, RSS and record counts."""
    config = {"api_key": sim.api_key, "api_url": sim.url, **settings}
    config_path = TMP / "config.json"
    config_path.write_text(json.dumps(config))
    catalog = discover(config_path)
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = streams is None or (
                    entry["tap_stream_id"] in streams
                )
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
        "rss_mb": usage.ru_maxrss / 1024,
        "throttled": sum(1 for r in sim.requests if r.status == 429),
        "requests": len(sim.requests),
    }


def raw_reader(sim: KlaviyoSimulator, workers: int = 16) -> dict[str, Any]:
    """Fetch every event page in parallel time slices and write JSON lines: no Singer,
    no schema, only the API under the same rate limit. The ceiling for the tap."""
    sim.requests.clear()
    sim.reset_rate_limits()
    events = sim.data.get("event")
    first = min(e["attributes"]["datetime"] for e in events)
    last = max(e["attributes"]["datetime"] for e in events)
    start = datetime.fromisoformat(first)
    end = datetime.fromisoformat(last) + timedelta(seconds=1)
    slices = workers * 4
    step = (end - start) / slices
    limiter = RateLimiter(350, 3500)
    headers = {"Authorization": f"Klaviyo-API-Key {sim.api_key}", "revision": "2026-07-15"}
    lock = threading.Lock()
    written = 0
    out = (TMP / "raw.jsonl").open("wb")

    def fetch(index: int) -> None:
        nonlocal written
        low = (start + step * index).astimezone(timezone.utc).isoformat()
        high = (start + step * (index + 1)).astimezone(timezone.utc).isoformat()
        url = f"{sim.url}/api/events"
        params: dict[str, Any] | None = {
            "filter": f"and(greater-or-equal(datetime,{low}),less-than(datetime,{high}))",
            "page[size]": 1000,
            "sort": "datetime",
        }
        session = requests.Session()
        while url:
            limiter.acquire()
            body = session.get(url, params=params, headers=headers, timeout=60).json()
            lines = b"".join(json.dumps(r).encode() + b"\n" for r in body["data"])
            with lock:
                out.write(lines)
                written += len(body["data"])
            url, params = body["links"].get("next"), None

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(fetch, range(slices)))
    wall = time.perf_counter() - started
    out.close()
    return {"wall": wall, "records": written, "rate": written / wall}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--profiles", type=int, default=50_000)
    parser.add_argument("--latency", type=float, default=0.2)
    args = parser.parse_args()

    print(f"building simulator data: {args.events} events, {args.profiles} profiles ...")
    data = SimData.bulk(events=args.events, profiles=args.profiles)
    sim = KlaviyoSimulator(data=data, rate_limits=True, latency=args.latency).start()
    data.get("event")  # materialise lazily generated data before timing
    data.get("profile")
    print(f"simulator: real rate limits, {args.latency * 1000:.0f} ms per request\n")

    noop_map = {"stream_maps": {"events": {"id": "id"}}}
    results = {
        "events, default settings": run_tap(sim, ["events"]),
        "events, max_workers=1": run_tap(sim, ["events"], max_workers=1),
        "events, SDK record path": run_tap(sim, ["events"], **noop_map),
    }
    raw = raw_reader(sim)
    profiles = run_tap(sim, ["profiles"])
    full = run_tap(sim, None)
    singles = {
        stream: run_tap(sim, [stream])["wall"]
        for stream in ("events", "profiles", "list_members", "campaigns")
    }
    sim.stop()

    print(
        f"{'run':<28}{'records':>9}{'wall s':>9}{'rec/s':>10}{'CPU us/rec':>12}"
        f"{'RSS MB':>8}{'429s':>6}"
    )
    for name, r in results.items():
        print(
            f"{name:<28}{r['records']:>9}{r['wall']:>9.1f}{r['rate']:>10.0f}"
            f"{r['cpu_us']:>12.1f}{r['rss_mb']:>8.0f}{r['throttled']:>6}"
        )
    print(
        f"{'raw concurrent reader':<28}{raw['records']:>9}{raw['wall']:>9.1f}{raw['rate']:>10.0f}"
    )
    print(
        f"{'profiles, default settings':<28}{profiles['records']:>9}{profiles['wall']:>9.1f}"
        f"{profiles['rate']:>10.0f}{profiles['cpu_us']:>12.1f}{profiles['rss_mb']:>8.0f}"
        f"{profiles['throttled']:>6}"
    )
    print(
        f"{'full sync, all streams':<28}{full['records']:>9}{full['wall']:>9.1f}"
        f"{full['rate']:>10.0f}{full['cpu_us']:>12.1f}{full['rss_mb']:>8.0f}"
        f"{full['throttled']:>6}"
    )

    default = results["events, default settings"]
    ceiling = 750 * 100 / 60
    slowest = max(singles.values())
    print("\nagainst the baselines measured in this run:")
    print(f"  events vs raw reader:         {default['rate'] / raw['rate']:.0%} (target >= 80%)")
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
        f"  full sync vs slowest stream:  {full['wall'] / slowest:.2f}x "
        f"({full['wall']:.1f}s vs {slowest:.1f}s; target <= 1.2x)"
    )


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
    main()
