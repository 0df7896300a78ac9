"""Run bounds: where a run reads each context from (bookmark, look-back, start_date,
progress after a restart) and to."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

from tap_klaviyo.read.bounds import run_end, run_start, saved_bookmark

STATE = {
    "bookmarks": {
        "events": {"replication_key_value": "2024-05-01T00:00:00+00:00"},
        "list_members": {
            "partitions": [
                {
                    "context": {"list_id": "L1"},
                    "replication_key_value": "2024-04-01T00:00:00+00:00",
                },
                {"context": {"list_id": "L2"}},
            ]
        },
    }
}
DAY = datetime(2024, 5, 1, tzinfo=timezone.utc)


def test_saved_bookmark_of_a_stream_without_partitions() -> None:
    assert saved_bookmark(STATE, "events", None, None) == "2024-05-01T00:00:00+00:00"
    assert saved_bookmark(STATE, "profiles", None, None) is None
    assert saved_bookmark({}, "events", None, None) is None


def test_saved_bookmark_of_a_partition_ignores_context_keys_that_do_not_partition() -> None:
    # A child's context also carries grandparent and related ids.
    context = {"list_id": "L1", "tags_ids": ["t1"]}
    assert saved_bookmark(STATE, "list_members", ["list_id"], context) == (
        "2024-04-01T00:00:00+00:00"
    )
    assert saved_bookmark(STATE, "list_members", ["list_id"], {"list_id": "L2"}) is None
    assert saved_bookmark(STATE, "list_members", ["list_id"], {"list_id": "L9"}) is None
    # Without partitioning keys the whole context is the partition.
    assert saved_bookmark(STATE, "list_members", None, context) is None
    assert saved_bookmark(STATE, "list_members", None, {"list_id": "L1"}) == (
        "2024-04-01T00:00:00+00:00"
    )


def test_saved_bookmark_of_a_context_without_partition_keys_is_the_streams() -> None:
    assert saved_bookmark(STATE, "events", ["metric_id"], {"other": "x"}) == (
        "2024-05-01T00:00:00+00:00"
    )


def test_saved_bookmark_leaves_the_state_alone() -> None:
    state = copy.deepcopy(STATE)
    saved_bookmark(state, "list_members", ["list_id"], {"list_id": "L3"})
    saved_bookmark(state, "campaigns", None, None)
    assert state == STATE


def test_run_start_without_a_bookmark_is_the_start_date() -> None:
    assert run_start(bookmark=None, lookback=timedelta(days=3), floor=None) is None
    assert run_start(bookmark=None, lookback=timedelta(days=3), floor=DAY) == DAY


def test_run_start_is_the_bookmark_less_the_look_back() -> None:
    start = run_start(bookmark="2024-05-10T06:00:00Z", lookback=timedelta(days=3), floor=None)
    assert start == datetime(2024, 5, 7, 6, tzinfo=timezone.utc)
    assert run_start(bookmark="2024-05-10T06:00:00+00:00", lookback=timedelta(0), floor=DAY) == (
        datetime(2024, 5, 10, 6, tzinfo=timezone.utc)
    )


def test_run_start_never_goes_before_the_start_date() -> None:
    start = run_start(bookmark="2024-05-02T00:00:00+00:00", lookback=timedelta(days=3), floor=DAY)
    assert start == DAY


def test_a_restart_within_the_run_starts_at_its_progress_without_look_back() -> None:
    progress = "2024-05-20T00:00:00+00:00"
    assert run_start(
        bookmark="2024-05-10T00:00:00+00:00",
        lookback=timedelta(days=3),
        floor=None,
        progress=progress,
    ) == datetime(2024, 5, 20, tzinfo=timezone.utc)
    assert run_start(
        bookmark=None, lookback=timedelta(days=3), floor=DAY, progress="2024-04-01T00:00:00Z"
    ) == (DAY)


def test_run_end_is_the_end_date_else_the_runs_start() -> None:
    started = datetime(2024, 6, 1, 12, tzinfo=timezone.utc)
    assert run_end(None, started) == started
    assert run_end(DAY, started) == DAY
