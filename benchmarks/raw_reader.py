"""The ceiling for the tap: fetch every event page and write JSON lines, nothing else.

    python benchmarks/raw_reader.py URL API_KEY START END OUT [--workers 16]

Runs as its own process (as the tap does), under the same per-endpoint rate
limiter, reading [START, END) as many time slices on a thread pool and writing
each page's resources as they arrive: no Singer messages, no schema, no order.
Prints one JSON line: records and wall seconds.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tap_klaviyo import spec
from tap_klaviyo.ratelimit import RateLimiter


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("url", "api_key", "start", "end", "out"):
        parser.add_argument(name)
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args()

    operation = spec.operation_for("GET", "/api/events")
    limiter = RateLimiter(operation.burst_per_second, operation.steady_per_minute)
    headers = {"Authorization": f"Klaviyo-API-Key {args.api_key}", "revision": spec.revision()}
    start, end = datetime.fromisoformat(args.start), datetime.fromisoformat(args.end)
    slices = args.workers * 4
    step = (end - start) / slices
    lock = threading.Lock()
    written = 0

    def fetch(index: int) -> None:
        nonlocal written
        low, high = (start + step * index).isoformat(), (start + step * (index + 1)).isoformat()
        url: str | None = f"{args.url}/api/events"
        params: dict[str, Any] | None = {
            "filter": f"and(greater-or-equal(datetime,{low}),less-than(datetime,{high}))",
            "page[size]": operation.page_size_max,
            "sort": "datetime",
        }
        session = requests.Session()
        while url:
            limiter.acquire()
            response = session.get(url, params=params, headers=headers, timeout=120)
            response.raise_for_status()
            body = msgspec.json.decode(response.content)
            lines = b"".join(msgspec.json.encode(r) + b"\n" for r in body["data"])
            with lock:
                out.write(lines)
                written += len(body["data"])
            url, params = body["links"].get("next"), None

    started = time.perf_counter()
    with Path(args.out).open("wb") as out, ThreadPoolExecutor(args.workers) as pool:
        list(pool.map(fetch, range(slices)))
    wall = time.perf_counter() - started
    print(msgspec.json.encode({"records": written, "wall": wall}).decode())


if __name__ == "__main__":
    main()
