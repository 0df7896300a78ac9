"""Each error path: 429 timing, 5xx retries, 401, 403, 400 detail; the key never leaks."""

from __future__ import annotations

import itertools
import logging
import re
from typing import Any

import pytest

from klaviyo_sim import Fault
from tap_klaviyo.errors import KlaviyoError
from tests.conftest import run_cli, run_tap


def test_429_waits_exactly_retry_after(sim: Any, config: dict[str, Any]) -> None:
    sim.faults.add(Fault(path_pattern=r"^/api/tags$", status=429, retry_after=2, times=1))
    run = run_tap(config, streams=["tags"])
    assert sorted(run.ids("tags")) == sorted(t["id"] for t in sim.data.get("tag"))
    calls = [r for r in sim.requests if r.path == "/api/tags"]
    assert [c.status for c in calls[:2]] == [429, 200]
    assert calls[1].time - calls[0].time >= 2.0


def test_429_storm_each_wait_is_the_full_retry_after(sim: Any, config: dict[str, Any]) -> None:
    sim.faults.add(Fault(path_pattern=r"^/api/metrics$", status=429, retry_after=1, times=3))
    run = run_tap(config, streams=["metrics"])
    assert sorted(run.ids("metrics")) == sorted(sim.data.ids("metric"))
    calls = [r for r in sim.requests if r.path == "/api/metrics"]
    assert [c.status for c in calls] == [429, 429, 429, 200]
    gaps = [b.time - a.time for a, b in itertools.pairwise(calls)]
    assert all(gap >= 1.0 for gap in gaps), gaps


def test_429_longer_than_the_limit_stops_the_run(sim: Any, config: dict[str, Any]) -> None:
    sim.faults.add(Fault(path_pattern=r"^/api/tags$", status=429, retry_after=7200, times=1))
    with pytest.raises(KlaviyoError, match="max_retry_after_seconds=600"):
        run_tap(config, streams=["tags"])


@pytest.mark.usefixtures("fast_retries")
@pytest.mark.parametrize("kind", ["status", "reset", "truncated", "invalid_json"])
def test_transient_failures_are_retried(sim: Any, config: dict[str, Any], kind: str) -> None:
    sim.faults.add(Fault(path_pattern=r"^/api/tags$", kind=kind, status=503, times=2))
    run = run_tap(config, streams=["tags"])
    assert sorted(run.ids("tags")) == sorted(t["id"] for t in sim.data.get("tag"))


@pytest.mark.usefixtures("fast_retries")
def test_retries_run_out_with_stream_and_endpoint_named(sim: Any, config: dict[str, Any]) -> None:
    sim.faults.add(Fault(path_pattern=r"^/api/tags$", status=502, times=None))
    with pytest.raises(KlaviyoError, match=r"Stream 'tags' gave up on GET /api/tags after 3"):
        run_tap(config, streams=["tags"])


def test_401_says_the_key_was_rejected(sim: Any, config: dict[str, Any]) -> None:
    with pytest.raises(KlaviyoError) as caught:
        run_tap({**config, "api_key": "pk_not_a_real_key_123"}, streams=["tags"])
    message = str(caught.value)
    assert "401" in message and "`api_key`" in message
    assert "pk_not_a_real_key_123" not in message


def test_403_names_the_stream_and_the_scope(sim: Any, config: dict[str, Any]) -> None:
    sim.add_key("pk_no_events", {"tags:read", "metrics:read"})
    with pytest.raises(KlaviyoError) as caught:
        run_tap({**config, "api_key": "pk_no_events"}, streams=["events"])
    assert "Stream 'events' needs the API key scope(s) events:read" in str(caught.value)


def test_ignore_forbidden_streams_skips_with_one_warning(
    sim: Any, config: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    sim.add_key("pk_no_events", {"tags:read", "metrics:read"})
    with caplog.at_level(logging.WARNING):
        run = run_tap(
            {**config, "api_key": "pk_no_events", "ignore_forbidden_streams": True},
            streams=["events", "tags"],
        )
    assert "events" not in run.records
    assert sorted(run.ids("tags")) == sorted(t["id"] for t in sim.data.get("tag"))
    skipped = [r for r in caplog.records if "Skipping stream" in r.getMessage()]
    assert len(skipped) == 1 and "events:read" in skipped[0].getMessage()


def test_400_carries_klaviyos_detail(sim: Any, config: dict[str, Any]) -> None:
    sim.faults.add(Fault(path_pattern=r"^/api/tags$", status=400, times=1))
    with pytest.raises(KlaviyoError) as caught:
        run_tap(config, streams=["tags"])
    message = str(caught.value)
    assert message.startswith("Klaviyo rejected GET /api/tags for stream 'tags' (400): ")
    detail = message.split("(400): ", 1)[1]
    assert detail and detail != "Bad Request"


def test_failing_run_never_prints_the_key(sim: Any, write_json: Any) -> None:
    key = "pk_secret_that_must_not_leak_0123456789"
    sim.add_key(key, {"tags:read"})
    config = {"api_key": key, "api_url": sim.url}
    result = run_cli(["--config", str(write_json("config.json", config))])
    assert result.returncode == 1
    # The first stream to fail names its scope (which stream comes first may change).
    assert re.search(r"needs the API key scope\(s\) [a-z-]+:read", result.stderr)
    assert key not in result.stderr and key not in result.stdout
    about = run_cli(["--config", str(write_json("config.json", config)), "--about"])
    discover = run_cli(["--config", str(write_json("config.json", config)), "--discover"])
    for output in (about.stdout, about.stderr, discover.stdout, discover.stderr):
        assert key not in output


def test_parent_deleted_before_its_children_are_read(
    sim: Any, config: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    lists = sim.data.get("list")
    gone = next(g["id"] for g in lists if sim.data.members("list", g["id"]))
    sim.faults.add(Fault(path_pattern=rf"^/api/lists/{gone}/profiles$", status=404, times=None))
    with caplog.at_level(logging.WARNING):
        run = run_tap(config, streams=["lists", "list_members"])
    emitted = {(r["list_id"], r["profile_id"]) for r in run.records["list_members"]}
    expected = {
        (g["id"], p) for g in lists if g["id"] != gone for p in sim.data.members("list", g["id"])
    }
    assert emitted == expected
    warnings = [r.getMessage() for r in caplog.records if "is gone (404)" in r.getMessage()]
    assert len(warnings) == 1 and gone in warnings[0]


@pytest.mark.parametrize("workers", [1, 4])
def test_rejected_cursor_restarts_the_stream_once_from_its_bookmark(
    bulk_sim: Any, workers: int
) -> None:
    # Enough profiles for several pages per query, so cursors are in play.
    sim = bulk_sim(events=10, profiles=2500)
    config = {"api_key": sim.api_key, "api_url": sim.url, "max_workers": workers}
    sim.faults.add(Fault(path_pattern=r"^/api/profiles$", kind="stale_cursor", after=2, times=1))
    run = run_tap(config, streams=["profiles"])
    assert set(run.ids("profiles")) == set(sim.data.ids("profile"))
    calls = sim.requests.snapshot()
    rejected = [i for i, c in enumerate(calls) if c.status == 400]
    assert len(rejected) == 1
    # The restart is a fresh query (no cursor) from the last emitted record.
    fresh = [c for c in calls[rejected[0] :] if "page[cursor]" not in c.query]
    assert fresh and "greater-than(updated," in fresh[0].query["filter"][0]


def test_cursor_rejected_twice_fails_clearly(bulk_sim: Any) -> None:
    sim = bulk_sim(events=10, profiles=2500)
    config = {"api_key": sim.api_key, "api_url": sim.url, "max_workers": 1}
    sim.faults.add(Fault(path_pattern=r"^/api/profiles$", kind="stale_cursor", times=None))
    with pytest.raises(KlaviyoError, match=r"Klaviyo rejected GET /api/profiles .*page\[cursor\]"):
        run_tap(config, streams=["profiles"])


@pytest.mark.usefixtures("fast_retries")
def test_read_timeout_is_retried(
    sim: Any,
    config: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from tap_klaviyo.transport.policy import RETRY

    monkeypatch.setattr(RETRY, "timeout_seconds", 0.5)
    stall = sim.faults.add(
        Fault(path_pattern=r"^/api/tags$", kind="timeout", timeout_seconds=2, times=1)
    )
    with caplog.at_level(logging.WARNING):
        run = run_tap(config, streams=["tags"])
    assert stall.fired == 1, "the first request stalled past the read timeout"
    retries = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert len(retries) == 1 and "ReadTimeout" in retries[0]
    # The stalled request was given up and retried: every tag arrived anyway.
    assert sorted(run.ids("tags")) == sorted(t["id"] for t in sim.data.get("tag"))
