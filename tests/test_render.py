"""Worker processes render pages into exactly the lines the tap would write itself."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import tap_klaviyo.tap
from tap_klaviyo.write.render import RenderPool
from tap_klaviyo.write.renderer import PageRenderer
from tests.conftest import TapRun, catalog_for, run_tap, run_tap_until_failure


class CountingPool(RenderPool):
    """The real pool, counting the pages it is given."""

    submitted = 0

    def submit(self, stream_name: str, *args: Any, **kwargs: Any) -> Any:
        CountingPool.submitted += 1
        return super().submit(stream_name, *args, **kwargs)


@pytest.fixture
def counting_pool(monkeypatch: pytest.MonkeyPatch) -> type[CountingPool]:
    CountingPool.submitted = 0
    monkeypatch.setattr(tap_klaviyo.tap, "RenderPool", CountingPool)
    return CountingPool


def comparable(run: TapRun) -> list[Any]:
    """The messages in order, less what differs between any two runs: extraction times
    and the signpost (the run's start) in intermediate states."""
    out: list[Any] = []
    for message in run.messages:
        if message["type"] == "RECORD":
            out.append({k: v for k, v in message.items() if k != "time_extracted"})
        elif message["type"] == "STATE":
            out.append(("STATE", sorted(message["value"].get("bookmarks", {}))))
        else:
            out.append(message)
    return [*out, run.state]


def test_worker_processes_write_what_the_tap_writes_itself(
    bulk_sim: Any, counting_pool: type[CountingPool]
) -> None:
    sim = bulk_sim(events=6_000, profiles=1_500)
    # One stream at a time, so both runs write their messages in the same order.
    config = {"api_key": sim.api_key, "api_url": sim.url, "max_workers": 4, "parallel_streams": 1}
    streams = ["events", "profiles"]
    alone = run_tap({**config, "render_processes": 0}, streams=streams)
    assert counting_pool.submitted == 0
    rendered = run_tap({**config, "render_processes": 2}, streams=streams)
    # Every page after each stream's first came back from a worker process.
    assert counting_pool.submitted >= (6_000 + 1_500) // 1_000
    assert len(rendered.records["events"]) == 6_000
    assert len(rendered.records["profiles"]) == 1_500
    assert comparable(rendered) == comparable(alone)
    # The metrics' names are looked up after the workers forked, and reach them.
    assert all(r["metric_name"] for r in rendered.records["events"])


def test_events_of_chosen_metrics_match_the_sdks_own_loop(
    bulk_sim: Any, counting_pool: type[CountingPool]
) -> None:
    """Per-metric partitions, a page at a time in worker processes, against the SDK's
    record-by-record loop (which a stream map turns on): same records, same bookmarks."""
    # Ten metrics share the events: a few pages each, so each metric reads windows.
    sim = bulk_sim(events=30_000, profiles=10)
    metrics = sorted(sim.data.ids("metric"))[:3]
    config = {
        "api_key": sim.api_key,
        "api_url": sim.url,
        "max_workers": 4,
        "event_metric_ids": metrics,
    }
    rendered = run_tap({**config, "render_processes": 2}, streams=["events"])
    assert counting_pool.submitted > 0
    sdk_loop = run_tap({**config, "stream_maps": {"events": {"id": "id"}}}, streams=["events"])
    assert rendered.records["events"] == sdk_loop.records["events"]
    assert {r["metric_id"] for r in rendered.records["events"]} == set(metrics)
    assert rendered.state == sdk_loop.state
    partitions = rendered.state["bookmarks"]["events"]["partitions"]
    assert sorted(p["context"]["metric_id"] for p in partitions) == metrics
    assert all("replication_key_value" in p for p in partitions)


def test_a_record_that_does_not_fit_widens_the_schema_the_same_way(
    bulk_sim: Any, counting_pool: type[CountingPool], caplog: pytest.LogCaptureFixture
) -> None:
    sim = bulk_sim(events=5_000, profiles=10)
    broken = sorted(sim.data.get("event"), key=lambda e: e["attributes"]["datetime"])[3_500]
    sim.data.update("event", broken["id"], timestamp="soon")
    config = {"api_key": sim.api_key, "api_url": sim.url, "max_workers": 4}
    runs = []
    for processes in (0, 2):
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            run = run_tap({**config, "render_processes": processes}, streams=["events"])
        runs.append(run)
        assert len(run.records["events"]) == 5_000
        warnings = [r.getMessage() for r in caplog.records if "SCHEMA" in r.getMessage()]
        assert warnings == [
            "Stream 'events': `timestamp` came as string, which the schema did not allow: "
            "now integer/null/string (a new SCHEMA message says so)"
        ]
        # A second SCHEMA, before the first record that needs it, allows the string.
        schemas = [i for i, m in enumerate(run.messages) if m["type"] == "SCHEMA"]
        assert len(schemas) == 2
        widened = run.messages[schemas[1]]["schema"]["properties"]["timestamp"]
        assert widened["type"] == ["integer", "null", "string"]
        first_soon = next(
            i
            for i, m in enumerate(run.messages)
            if m["type"] == "RECORD" and m["record"]["id"] == broken["id"]
        )
        assert schemas[1] < first_soon
        assert run.messages[first_soon]["record"]["timestamp"] == "soon"
    assert counting_pool.submitted > 0
    assert comparable(runs[0]) == comparable(runs[1])


def test_a_worker_that_dies_stops_the_stream_in_one_line(
    bulk_sim: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = bulk_sim(events=5_000, profiles=10)
    # Inherited by the worker processes, which fork when the run starts.
    monkeypatch.setattr(PageRenderer, "render_body", lambda *args: os._exit(1))
    config = {"api_key": sim.api_key, "api_url": sim.url, "max_workers": 4}
    run, error = run_tap_until_failure({**config, "render_processes": 2}, streams=["events"])
    assert str(error) == (
        "Stream 'events': a worker process rendering its records stopped unexpectedly "
        "(out of memory?); set render_processes to 0 to render them in the tap's own process."
    )
    written = [r["datetime"] for r in run.records.get("events", [])]
    assert len(written) < 5_000
    mark = run.state.get("bookmarks", {}).get("events", {}).get("replication_key_value")
    assert mark is None or (written and mark <= max(written))


def worker_pids(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            found += [int(p) for p in task.read_text().split()]
    return found


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_worker_processes_end_with_a_killed_tap(write_json: Any) -> None:
    from klaviyo_sim import KlaviyoSimulator, SimData

    with KlaviyoSimulator(
        data=SimData.bulk(events=20_000, profiles=10), latency=0.2, reality=True
    ) as sim:
        config = {"api_key": sim.api_key, "api_url": sim.url, "render_processes": 2}
        catalog = catalog_for(config, ["events"])
        command = [sys.executable, "-m", "tap_klaviyo.tap"]
        command += ["--config", str(write_json("config.json", config))]
        command += ["--catalog", str(write_json("catalog.json", catalog))]
        tap = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while len(workers := worker_pids(tap.pid)) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(workers) == 2
            tap.kill()
            tap.wait()
            deadline = time.monotonic() + 10
            while any(Path(f"/proc/{p}").exists() for p in workers):
                assert time.monotonic() < deadline, "worker processes outlived the tap"
                time.sleep(0.1)
        finally:
            tap.kill()


def test_a_worker_orphaned_before_it_starts_still_leaves() -> None:
    # A tap killed between a worker's fork and its initializer leaves the worker
    # adopted already: the pid it watches must be the tap's, taken before the fork.
    import multiprocessing

    from tap_klaviyo.write import render

    def orphan() -> None:
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        render._start_child(dead.pid)  # the tap it came from is gone
        time.sleep(30)

    child = multiprocessing.get_context("fork").Process(target=orphan)
    child.start()
    child.join(timeout=10)
    try:
        assert child.exitcode == 0, "a worker whose tap is gone kept running"
    finally:
        child.kill()


class Slow:
    """A stream whose renders take a while and give back what they were given."""

    class renderer:
        @staticmethod
        def render_body(content: bytes, *rest: Any) -> bytes:
            time.sleep(0.1)
            return content


def finishing_order(futures: list[Any]) -> list[bytes]:
    done: list[bytes] = []
    for future in futures:
        future.add_done_callback(lambda f: done.append(f.result()))
    for future in futures:
        future.result(timeout=30)
    return done


def test_pages_asked_for_render_before_pages_fetched_ahead() -> None:
    pool = RenderPool({"slow": Slow}, 1)
    try:
        # Pages fetched ahead take only a process that is idle: one at a time here.
        ahead = [pool.submit("slow", b"ahead %d" % n, ahead=True) for n in range(4)]
        now = pool.submit("slow", b"now")
        assert finishing_order([*ahead, now]) == [
            b"ahead 0",
            b"now",
            b"ahead 1",
            b"ahead 2",
            b"ahead 3",
        ]
        # A page queued ahead that the writer comes to goes before the rest.
        ahead = [pool.submit("slow", b"ahead %d" % n, ahead=True) for n in range(3)]
        pool.needed(ahead[2])
        assert finishing_order(ahead) == [b"ahead 0", b"ahead 2", b"ahead 1"]
    finally:
        pool.close()


def test_a_finished_read_drops_its_renders_not_started() -> None:
    pool = RenderPool({"slow": Slow}, 1)
    try:
        mine, other = object(), object()
        started = pool.submit("slow", b"first", ahead=True, owner=mine)
        queued = [pool.submit("slow", b"%d" % n, ahead=True, owner=mine) for n in range(3)]
        kept = pool.submit("slow", b"kept", ahead=True, owner=other)
        pool.drop(mine)
        assert all(future.cancelled() for future in queued)
        assert started.result(timeout=30) == b"first"
        assert kept.result(timeout=30) == b"kept"
    finally:
        pool.close()
