"""Top-level streams run on daemon threads; the first fatal error stops them all."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest

from tap_klaviyo import runner
from tap_klaviyo.runner import StreamRunner
from tap_klaviyo.stopping import RunStopped, Stop


class FakeStream:
    """A stream whose sync runs ``body(stop)``; records what happened to it."""

    def __init__(self, name: str, stop: Stop, body: Any = None) -> None:
        self.name = name
        self.stop = stop
        self.body = body or (lambda stop: None)
        self.started = threading.Event()
        self.finalized = False

    def sync(self) -> None:
        self.started.set()
        self.body(self.stop)

    def finalize_state_progress_markers(self) -> None:
        self.finalized = True


def waits_for_stop(stop: Stop) -> None:
    # A stream busy with its pages: it notices a stopping run at its next request.
    while not stop.wait(0.05):
        pass
    raise RunStopped(stop.reason)


def fails(stop: Stop) -> None:
    time.sleep(0.1)
    raise ValueError("Stream 'events' gave up on GET /api/events after 8 tries")


def test_every_stream_runs_and_is_finalized() -> None:
    stop = Stop()
    streams = [FakeStream(f"s{i}", stop) for i in range(7)]
    assert StreamRunner(streams, 3, stop, logging.getLogger("t")).run() is None
    assert all(s.started.is_set() and s.finalized for s in streams)
    assert not stop.is_set


def test_the_first_error_stops_every_other_stream_and_is_returned() -> None:
    stop = Stop()
    busy = FakeStream("profiles", stop, waits_for_stop)
    broken = FakeStream("events", stop, fails)
    later = FakeStream("tags", stop)
    started = time.monotonic()
    error = StreamRunner([busy, broken, later], 2, stop, logging.getLogger("t")).run()
    assert isinstance(error, ValueError)
    assert str(error) == "Stream 'events' gave up on GET /api/events after 8 tries"
    assert time.monotonic() - started < 2
    assert stop.is_set and stop.reason == str(error)
    # The stream that was waiting ended without counting as a failure; the one queued
    # behind them never started.
    assert busy.started.is_set() and not busy.finalized
    assert not later.started.is_set()
    deadline = time.monotonic() + 2
    while any(t.name.startswith("stream-") for t in threading.enumerate()):
        assert time.monotonic() < deadline, "a stream thread outlived the run"
        time.sleep(0.05)


def test_a_stream_that_does_not_stop_is_left_behind_after_the_grace(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(runner, "GRACE_SECONDS", 0.3)
    stop = Stop()
    release = threading.Event()
    stuck = FakeStream("list_members", stop, lambda stop: release.wait(30))
    started = time.monotonic()
    threading.Timer(0.1, stop.set, args=("received SIGTERM",)).start()
    with caplog.at_level(logging.WARNING):
        assert StreamRunner([stuck], 1, stop, logging.getLogger("t")).run() is None
    assert time.monotonic() - started < 2
    assert [r.getMessage() for r in caplog.records] == [
        "1 stream(s) still waiting on Klaviyo 0 s after the run began to stop; leaving them"
    ]
    thread = next(t for t in threading.enumerate() if t.name.startswith("stream-"))
    assert thread.daemon, "a daemon thread cannot hold the process's exit up"
    release.set()
