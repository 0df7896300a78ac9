"""Progress lines while streams run, and a summary line per stream at the end."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tap_klaviyo.progress import Reading, StreamProgress, time_fraction
from tests.conftest import run_tap

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
PROGRESS = re.compile(
    r"Progress: (?P<stream>\w+): (?P<records>[\d,]+) records \((?P<rate>[\d,]+)/s\) in .*?, "
    r"(?P<requests>[\d,]+) requests(?:, (?P<percent>\d+)% of (?P<of>[^,(]+))?"
)
SUMMARY = re.compile(
    r"Summary: (?P<stream>\w+): (?P<records>[\d,]+) records, (?P<requests>[\d,]+) requests, "
    r"(?P<throttled>\d+) throttled \(429\), (?P<seconds>[\d.]+) s, bookmark (?P<bookmark>\S+)"
)


def number(text: str) -> int:
    return int(text.replace(",", ""))


def test_a_read_in_key_order_is_as_far_as_its_last_key() -> None:
    end = T0 + timedelta(days=100)
    assert time_fraction(T0, end, None, (T0 + timedelta(days=25)).isoformat()) == 0.25
    # All history: the range starts at the first key written.
    first = (T0 + timedelta(days=50)).isoformat()
    assert time_fraction(None, end, first, (T0 + timedelta(days=75)).isoformat()) == 0.5
    assert time_fraction(T0, end, None, None) is None


def test_time_left_comes_from_the_records_expected_at_the_recent_pace() -> None:
    reading = Reading("events", 1_000, 100.0, 10, 0, fraction=0.5, rate=20.0, remaining=600.0)
    assert reading.eta_seconds() == 30.0
    # Without an estimate: the time so far, scaled by the share left.
    assert Reading("events", 1_000, 100.0, 10, 0, fraction=0.25).eta_seconds() == 300.0
    assert Reading("events", 0, 100.0, 10, 0).eta_seconds() is None


def test_the_recent_pace_forgets_the_first_minutes_burst() -> None:
    now = [0.0]
    progress = StreamProgress(clock=lambda: now[0])
    progress.begin()
    progress.records, now[0] = 60_000, 60.0  # a burst of quota at first
    progress.recent_rate()
    for _ in range(4):
        now[0] += 30.0
        progress.records += 3_000  # then 100 a second
        rate = progress.recent_rate()
    assert rate == pytest.approx(100.0)


def test_progress_lines_and_the_summary_say_what_the_run_did(
    bulk_sim: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from klaviyo_sim import Fault

    sim = bulk_sim(events=12_000, profiles=1_000)
    sim.latency = 0.05
    sim.faults.add(Fault(r"^/api/events$", status=429, retry_after=1, after=5, times=2))
    config = {"api_key": sim.api_key, "api_url": sim.url, "max_workers": 2}
    config["progress_seconds"] = 0.3
    with caplog.at_level(logging.INFO, logger="tap-klaviyo"):
        run = run_tap(config, streams=["events", "profiles"])
    lines = [r.getMessage() for r in caplog.records]

    progress = [m.groupdict() for line in lines if (m := PROGRESS.match(line))]
    events = [p for p in progress if p["stream"] == "events"]
    assert len(events) >= 2, lines
    counts = [number(p["records"]) for p in events]
    assert counts == sorted(counts) and counts[-1] <= 12_000
    shares = [int(p["percent"]) for p in events if p["percent"] is not None]
    assert shares and shares == sorted(shares) and shares[-1] <= 100

    summaries = {m["stream"]: m.groupdict() for line in lines if (m := SUMMARY.match(line))}
    assert set(summaries) == {"events", "profiles"}
    for stream, path in (("events", "/api/events"), ("profiles", "/api/profiles")):
        summary = summaries[stream]
        sent = [r for r in sim.requests if r.path == path]
        assert number(summary["records"]) == len(run.records[stream])
        assert number(summary["requests"]) == len(sent)
        assert int(summary["throttled"]) == sum(r.status == 429 for r in sent)
        bookmark = run.state["bookmarks"][stream]["replication_key_value"]
        assert summary["bookmark"] == bookmark
    assert int(summaries["events"]["throttled"]) == 2


def test_streams_that_finish_in_seconds_stay_quiet(
    config: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="tap-klaviyo"):
        run_tap(config, streams=["lists", "tags"])
    lines = [r.getMessage() for r in caplog.records]
    assert not [line for line in lines if line.startswith("Progress:")]
    assert sorted(m["stream"] for line in lines if (m := SUMMARY.match(line))) == [
        "lists",
        "tags",
    ]


def test_progress_seconds_0_turns_the_lines_off_and_keeps_the_summary(
    bulk_sim: Any, caplog: pytest.LogCaptureFixture
) -> None:
    sim = bulk_sim(events=3_000, profiles=0)
    sim.latency = 0.05
    config = {"api_key": sim.api_key, "api_url": sim.url, "max_workers": 2}
    config["progress_seconds"] = 0
    with caplog.at_level(logging.INFO, logger="tap-klaviyo"):
        run_tap(config, streams=["events"])
    lines = [r.getMessage() for r in caplog.records]
    assert not [line for line in lines if line.startswith("Progress:")]
    assert [m["stream"] for line in lines if (m := SUMMARY.match(line))] == ["events"]


def test_a_read_the_quota_holds_back_has_the_time_its_windows_allow(
    tap: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = tap.streams["events"]
    events.progress.records = 200_000  # 200 a request over 1,000 requests
    quota = 200 * 3_500 / 60  # records a second at the events quota, 3,500 a minute
    monkeypatch.setattr(events.progress, "recent_rate", lambda: 0.8 * quota)
    # 1,400,000 records left: 7,000 requests, two minutes' worth of 3,500, each sent at
    # 350 a second (ten seconds' burst windows, a little longer each than a second).
    assert events.time_left_at_quota(1_400_000, 1_000) == pytest.approx(60.65 + 9 * 1.06)
    # Far below the quota's pace: something else holds it back; no quota time.
    monkeypatch.setattr(events.progress, "recent_rate", lambda: 0.2 * quota)
    assert events.time_left_at_quota(1_400_000, 1_000) is None
