"""The ceiling for the tap: fetch every event page and write JSON lines, nothing else.

    python benchmarks/raw_reader.py URL API_KEY START END OUT [--workers 16] [--edges FILE]

Runs as its own process (as the tap does), under the same per-endpoint rate
limiter, reading [START, END) as 4 x workers time slices on a thread pool and
writing each resource as the bytes it arrived as, as pages arrive: no parsing
into objects, no Singer messages, no schema, no order. The slices are equal in
time, or, with --edges (a JSON list of date-times), cut where the benchmark knows
the data's quantiles are: equal in records whatever the data's shape, which no
real client knows in advance. Prints one JSON line: records and wall seconds (the
benchmark times it from launch instead).
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
from tap_klaviyo.transport.ratelimit import RateLimiter


class Links(msgspec.Struct):
    next: str | None = None


class Page(msgspec.Struct):
    # Each resource stays the bytes it arrived as: splitting a page into lines is the
    # least any reader must do, so nothing faster writes JSON lines.
    data: list[msgspec.Raw]
    links: Links


page_decoder = msgspec.json.Decoder(Page)


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("url", "api_key", "start", "end", "out"):
        parser.add_argument(name)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--edges")
    args = parser.parse_args()

    operation = spec.operation_for("GET", "/api/events")
    limiter = RateLimiter(operation.burst_per_second, operation.steady_per_minute)
    headers = {"Authorization": f"Klaviyo-API-Key {args.api_key}", "revision": spec.revision()}
    start, end = datetime.fromisoformat(args.start), datetime.fromisoformat(args.end)
    if args.edges:
        inner = [
            datetime.fromisoformat(e) for e in msgspec.json.decode(Path(args.edges).read_bytes())
        ]
        edges = [start, *(e for e in inner if start < e < end), end]
    else:
        slices = args.workers * 4
        edges = [start + (end - start) / slices * i for i in range(slices + 1)]
    lock = threading.Lock()
    written = 0

    def fetch(index: int) -> None:
        nonlocal written
        low, high = edges[index].isoformat(), edges[index + 1].isoformat()
        url: str | None = f"{args.url}/api/events"
        params: dict[str, Any] | None = {
            "filter": f"and(greater-or-equal(datetime,{low}),less-than(datetime,{high}))",
            "page[size]": operation.page_size_max,
            "sort": "datetime",
        }
        session = requests.Session()
        while url:
            limiter.acquire()
            try:
                response = session.get(
                    url, params=params, headers=headers, timeout=120, stream=True
                )
                response.raise_for_status()
                # requests reads 10 KB at a time by default, each read a GIL hand-off
                # between 16 threads; the tap reads 1 MB at a time, and so does its ceiling.
                body = b"".join(response.iter_content(1 << 20))
            finally:
                limiter.release()
            page = page_decoder.decode(body)
            lines = b"".join(bytes(resource) + b"\n" for resource in page.data)
            with lock:
                out.write(lines)
                written += len(page.data)
            url, params = page.links.next, None

    started = time.perf_counter()
    with Path(args.out).open("wb") as out, ThreadPoolExecutor(args.workers) as pool:
        list(pool.map(fetch, range(len(edges) - 1)))
    wall = time.perf_counter() - started
    print(msgspec.json.encode({"records": written, "wall": wall}).decode())


if __name__ == "__main__":
    main()
