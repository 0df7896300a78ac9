"""The run's cost plan: each selected stream's quota and known requests, and the bound."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tap_klaviyo.errors import KlaviyoError
from tap_klaviyo.plan import Cost, cost_of, estimate_seconds, log_plan, parallel_seconds
from tap_klaviyo.tap import TapKlaviyo
from tests.conftest import run_tap


def test_least_time_is_what_the_limiter_allows() -> None:
    assert estimate_seconds(0, 2) == 0
    assert estimate_seconds(15, 15) == 0  # the first minute's worth leaves at once
    assert estimate_seconds(16, 15) == pytest.approx(60.65)
    assert estimate_seconds(100, None) == 0
    assert estimate_seconds(225, 2) == pytest.approx(112 * 60.65)  # a report's daily quota
    assert parallel_seconds([100, 50, 50, 10], 2) == 110
    assert parallel_seconds([100, 50], 1) == 150


def test_a_stream_costs_its_endpoints_quota_at_the_taps_share(tap: TapKlaviyo) -> None:
    events = cost_of(tap.streams["events"])
    assert (events.endpoint, events.per_minute, events.per_second) == ("GET /api/events", 3500, 350)
    assert events.requests == 1 and events.per_parent is None
    half = TapKlaviyo(config={"api_key": "pk_unit", "max_requests_per_minute_share": 0.5})
    assert cost_of(half.streams["events"]).per_minute == 1750
    # profile_count lowers the endpoint's quota to 15 a minute (the spec's description).
    sizes = cost_of(tap.streams["list_sizes"])
    assert (sizes.per_minute, sizes.per_parent) == (15, "lists")
    assert "4 s each once the first 15 are sent" in sizes.describe()
    assert cost_of(tap.streams["list_tags"]).endpoint == ""


def test_a_child_counts_the_parents_its_last_run_read() -> None:
    state = {
        "bookmarks": {
            "metric_properties": {
                "partitions": [{"context": {"metric_id": f"M{i}"}} for i in range(45)]
            }
        }
    }
    tap = TapKlaviyo(config={"api_key": "pk_unit"}, state=state)
    cost = cost_of(tap.streams["metric_properties"])
    assert (cost.per_parent, cost.parents_last_run, cost.per_minute) == ("metrics", 45, 15)
    # 45 requests at 15 a minute: 15 at once, then two more minutes.
    assert cost.least_seconds() == pytest.approx(2 * 60.65)
    assert "(45 last run), at least 2 min" in cost.describe()


def test_the_plan_names_the_stream_that_bounds_the_run(caplog: pytest.LogCaptureFixture) -> None:
    costs = [
        Cost("events", "GET /api/events", 3500, 350, requests=1),
        Cost("metric_properties", "GET /x", 15, 1, per_parent="metrics", parents_last_run=90),
        Cost("flow_actions", "GET /y", 60, 3, per_parent="flows", parents_last_run=200),
    ]

    class Known:
        def __init__(self, cost: Cost) -> None:
            self.name = cost.stream
            self.planned_cost = lambda: cost

    class Failing:
        name = "campaign_values_reports"

        def planned_cost(self) -> Cost:
            raise KlaviyoError("the API key may not read GET /api/accounts")

    logger = logging.getLogger("test-plan")
    with caplog.at_level(logging.INFO, logger="test-plan"):
        log_plan(logger, [*(Known(c) for c in costs), Failing()], workers=2)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 5
    assert lines[3] == (
        "Plan: campaign_values_reports: not known before reading: "
        "the API key may not read GET /api/accounts"
    )
    # 90 at 15/min: 5 more minutes; 200 at 60/min: 3 more minutes; side by side.
    assert lines[4] == (
        "Plan: 4 stream(s), 291 request(s) known before reading, 2 stream(s) at a time: "
        "at least 5 min, bound by metric_properties"
    )


def test_the_plan_comes_before_any_stream_reads(
    config: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="tap-klaviyo"):
        run_tap(config, streams=["events", "lists", "list_members", "list_tags"])
    lines = [r.getMessage() for r in caplog.records]
    plan = [i for i, line in enumerate(lines) if line.startswith("Plan:")]
    assert sorted(lines[i].split(":")[1].strip() for i in plan[:-1]) == [
        "events",
        "list_members",
        "list_tags",
        "lists",
    ]
    first_summary = next(i for i, line in enumerate(lines) if line.startswith("Summary:"))
    assert plan[-1] < first_summary
