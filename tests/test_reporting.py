"""Report streams and metric aggregates against the simulator (issue 7).

The tap's rate limiters and the simulator share a virtual clock: a limiter's sleep moves it
forward at once, so 2 requests a minute and a 24-hour quota cost no real time, and the
simulator enforces its windows on the same clock. ``CLOCK.now`` (the request ledger,
"today") is pinned to the simulator's data clock, 2026-11-20T12:00Z (07:00 in the seeded
account's US/Eastern), so the last complete local day is 2026-11-19.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from klaviyo_sim import Fault, KlaviyoSimulator
from klaviyo_sim.clock import VirtualClock
from klaviyo_sim.reports import _h
from tap_klaviyo.dates import CLOCK
from tap_klaviyo.plan import estimate_seconds
from tap_klaviyo.settings import (
    DEFAULT_STATISTICS,
    REPORTING_PERIODS,
    statistics_enum,
    statistics_setting,
)
from tap_klaviyo.streams import reporting
from tap_klaviyo.streams.reporting import calendar
from tap_klaviyo.tap import SettingsError, TapKlaviyo, check_settings
from tap_klaviyo.transport.ratelimit import LIMITERS
from tests.conftest import TapRun, catalog_for, run_tap, run_tap_until_failure

SIM_NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
EASTERN = ZoneInfo("US/Eastern")
REPORT_STREAMS = [t.name for t in reporting.REPORT_STREAM_TYPES if t.name != "metric_aggregates"]


class Wall:
    """What ``CLOCK.now`` returns."""

    def __init__(self) -> None:
        self.now = SIM_NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[VirtualClock]:
    virtual = VirtualClock()
    monkeypatch.setattr(CLOCK, "monotonic", virtual)
    monkeypatch.setattr(CLOCK, "sleep", virtual.sleep)
    LIMITERS.reset()
    yield virtual
    LIMITERS.reset()


@pytest.fixture
def wall(monkeypatch: pytest.MonkeyPatch) -> Wall:
    pinned = Wall()
    monkeypatch.setattr(CLOCK, "now", pinned)
    return pinned


@pytest.fixture
def rsim(clock: VirtualClock, wall: Wall) -> Iterator[KlaviyoSimulator]:
    with KlaviyoSimulator(seed=0, rate_limits=True, clock=clock, reality=True) as simulator:
        yield simulator


@pytest.fixture
def run(clock: VirtualClock) -> Any:
    """``run_tap`` two minutes after the previous run: each run is a fresh process whose
    limiters know nothing of the last one, as scheduled runs are minutes apart."""

    def run(config: dict[str, Any], **kwargs: Any) -> TapRun:
        clock.sleep(120)
        return run_tap(config, **kwargs)

    return run


@pytest.fixture
def run_until_failure(clock: VirtualClock) -> Any:
    def run(config: dict[str, Any], **kwargs: Any) -> tuple[TapRun, Exception | None]:
        clock.sleep(120)
        return run_tap_until_failure(config, **kwargs)

    return run


@pytest.fixture
def rconfig(rsim: KlaviyoSimulator) -> dict[str, Any]:
    return {"api_key": rsim.api_key, "api_url": rsim.url, "parallel_streams": 1}


def metric_id(sim: KlaviyoSimulator, name: str) -> str:
    return next(m["id"] for m in sim.data.get("metric") if m["attributes"]["name"] == name)


def served(sim: KlaviyoSimulator, operation_id: str, status: int | None = 200) -> list[Any]:
    return [
        r for r in sim.requests.for_operation(operation_id) if status is None or r.status == status
    ]


def bodies(sim: KlaviyoSimulator, operation_id: str) -> list[dict[str, Any]]:
    return [json.loads(r.body)["data"]["attributes"] for r in served(sim, operation_id)]


def post(sim: KlaviyoSimulator, path: str, kind: str, attributes: dict[str, Any], **params: Any):
    return requests.post(
        sim.url + path,
        params=params,
        headers={
            "Authorization": f"Klaviyo-API-Key {sim.api_key}",
            "revision": "2026-07-15",
            "Content-Type": "application/vnd.api+json",
        },
        data=json.dumps({"data": {"type": kind, "attributes": attributes}}),
        timeout=10,
    )


def keyed(run: TapRun, stream: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    keys = run.schemas[stream]["key_properties"]
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for record in run.records.get(stream, []):
        rows[tuple(record[k] for k in keys)] = record
    return rows


def bookmark(run: TapRun, stream: str) -> dict[str, Any]:
    return run.state["bookmarks"][stream]


# ---- planning ----------------------------------------------------------------------------


def test_requests_follow_the_plan_logged_up_front(
    rsim: KlaviyoSimulator,
    rconfig: dict[str, Any],
    clock: VirtualClock,
    caplog: Any,
    run: Any,
) -> None:
    config = {**rconfig, "reporting_start_date": "2026-10-01T12:00:00Z"}
    streams = ["campaign_values_reports", "flow_series_reports", "segment_values_reports"]
    with caplog.at_level(logging.INFO):
        run = run(config, streams=streams)
    messages = [r.getMessage() for r in caplog.records]
    plan = [m for m in messages if m.startswith("Plan:")]
    # 1 October to 19 November: a values request per day, one series request (<= 60 days).
    assert any(
        "campaign_values_reports: 50 request(s) for 2026-10-01..2026-11-19 "
        "(POST /api/campaign-values-reports, 2/min), about 24 min; 0 of the daily budget of "
        "150 used in the last 24 h" in m
        for m in plan
    ), plan
    assert any("flow_series_reports: 1 request(s) for 2026-10-01..2026-11-19" in m for m in plan)
    assert any("segment_values_reports: 50 request(s)" in m for m in plan)
    assert any(
        "3 stream(s), 101 request(s) known before reading, 1 stream(s) at a time: at least "
        "49 min, bound by campaign_values_reports" in m
        for m in plan
    ), plan
    # The plan is logged once, before the first report request's "conversions are" line.
    assert len([m for m in plan if "known before reading" in m]) == 1
    first_plan = messages.index(plan[0])
    assert all(
        messages.index(m) > first_plan for m in messages if "conversions are 'Placed Order'" in m
    )

    campaign = served(rsim, "query_campaign_values")
    assert len(campaign) == 50
    assert len(served(rsim, "query_flow_series")) == 1
    assert len(served(rsim, "query_segment_values")) == 50
    # Planned against 2/min: never throttled, never more than 2 in any 60 s, and the
    # estimate (24 more minutes of 60.65 s after the first two requests) is what it took.
    assert not [r for r in rsim.requests if r.status == 429]
    times = [r.time for r in campaign]
    assert all(later - earlier >= 60 for earlier, later in zip(times, times[2:], strict=False))
    assert times[-1] - times[0] == pytest.approx(estimate_seconds(50, 2), abs=5)
    assert len(run.records["segment_values_reports"]) == 50 * rsim.data.count("segment")


# ---- windows -----------------------------------------------------------------------------


@pytest.mark.parametrize("zone_name", ["US/Eastern", "Asia/Kolkata"])
def test_windows_are_whole_days_of_the_account_timezone(
    rsim: KlaviyoSimulator,
    rconfig: dict[str, Any],
    clock: VirtualClock,
    wall: Wall,
    zone_name: str,
    run: Any,
) -> None:
    account = rsim.data.ids("account")[0]
    rsim.data.update("account", account, timezone=zone_name)
    zone = ZoneInfo(zone_name)
    # 4 November 2026 noon UTC: the last complete local day is 3 November in both zones.
    wall.now = datetime(2026, 11, 4, 12, tzinfo=timezone.utc)
    config = {**rconfig, "reporting_start_date": "2026-10-28T12:00:00Z"}
    run = run(config, streams=["flow_values_reports"])

    timeframes = [b["timeframe"] for b in bodies(rsim, "query_flow_values")]
    days = [date(2026, 10, 28) + timedelta(days=i) for i in range(7)]
    expected = [
        {
            "start": datetime.combine(d, datetime.min.time(), zone).isoformat(),
            "end": datetime.combine(
                d, datetime.max.time().replace(microsecond=0), zone
            ).isoformat(),
        }
        for d in days
    ]
    # US/Eastern leaves daylight saving time on 1 November: that day starts at -04:00 and
    # ends at -05:00.
    assert timeframes == expected
    if zone_name == "US/Eastern":
        assert timeframes[4] == {
            "start": "2026-11-01T00:00:00-04:00",
            "end": "2026-11-01T23:59:59-05:00",
        }
    rows = run.records["flow_values_reports"]
    assert sorted({r["date"] for r in rows}) == [d.isoformat() for d in days]
    assert all(r["through_date"] == r["date"] and r["period"] == "day" for r in rows)

    # No day counted twice: the days add up to one request over the whole week, while a
    # timeframe that ends at midnight also counts the day it ends on.
    def totals(timeframe: dict[str, str]) -> dict[str, float]:
        clock.sleep(61)  # the simulator's 2/min applies to the test too
        response = post(
            rsim,
            "/api/flow-values-reports",
            "flow-values-report",
            {
                "statistics": ["recipients"],
                "timeframe": timeframe,
                "conversion_metric_id": metric_id(rsim, "Placed Order"),
            },
        )
        assert response.status_code == 200, response.text
        return {
            r["groupings"]["flow_message_id"]: r["statistics"]["recipients"]
            for r in response.json()["data"]["attributes"]["results"]
        }

    summed: dict[str, float] = {}
    for row in rows:
        summed[row["flow_message_id"]] = summed.get(row["flow_message_id"], 0) + row["recipients"]
    whole = {"start": expected[0]["start"], "end": expected[-1]["end"]}
    assert totals(whole) == pytest.approx(summed)
    to_midnight = {"start": expected[0]["start"], "end": "2026-11-04T00:00:00"}
    assert totals(to_midnight) != pytest.approx(summed)


def test_week_and_month_periods_reread_the_whole_current_period(
    rsim: KlaviyoSimulator,
    rconfig: dict[str, Any],
    run: Any,
) -> None:
    config = {
        **rconfig,
        "reporting_start_date": "2026-09-10T12:00:00Z",
        "reporting_values_period": "month",
    }
    first = run(config, streams=["segment_values_reports"])
    timeframes = [b["timeframe"] for b in bodies(rsim, "query_segment_values")]
    assert [(t["start"][:10], t["end"][:10]) for t in timeframes] == [
        ("2026-09-10", "2026-09-30"),  # the start date is a floor
        ("2026-10-01", "2026-10-31"),
        ("2026-11-01", "2026-11-19"),  # complete days only
    ]
    rows = first.records["segment_values_reports"]
    assert {(r["date"], r["through_date"], r["period"]) for r in rows} == {
        ("2026-09-10", "2026-09-30", "month"),
        ("2026-10-01", "2026-10-31", "month"),
        ("2026-11-01", "2026-11-19", "month"),
    }
    rsim.requests.clear()
    weekly = run(
        {**config, "reporting_values_period": "week"},
        streams=["segment_values_reports"],
        state=first.state,
    )
    # The look-back (7 days before 19 November) starts in the week of Monday 9 November,
    # which is read whole, and so is the current week through yesterday.
    timeframes = [b["timeframe"] for b in bodies(rsim, "query_segment_values")]
    assert [(t["start"][:10], t["end"][:10]) for t in timeframes] == [
        ("2026-11-09", "2026-11-15"),
        ("2026-11-16", "2026-11-19"),
    ]
    assert {r["period"] for r in weekly.records["segment_values_reports"]} == {"week"}


@given(
    first=st.dates(min_value=date(2023, 1, 1), max_value=date(2027, 12, 31)),
    length=st.integers(min_value=0, max_value=500),
    period=st.sampled_from(REPORTING_PERIODS),
    chunk=st.integers(min_value=1, max_value=90),
)
def test_windows_cover_every_day_once(first: date, length: int, period: str, chunk: int) -> None:
    last = first + timedelta(days=length)
    for windows in (
        calendar.period_ranges(first, last, period, first),
        calendar.chunk_ranges(first, last, chunk),
    ):
        assert windows[0].first == first and windows[-1].last == last
        for before, after in itertools.pairwise(windows):
            assert after.first == before.last + timedelta(days=1)
        for window in windows:
            assert window.first <= window.last
    for window in calendar.period_ranges(first, last, period, None):
        # Whole periods: a window never crosses into the next one.
        assert calendar.period_end(window.first, period) >= window.last
        assert calendar.period_start(window.last, period) <= window.first
    assert all((w.last - w.first).days < chunk for w in calendar.chunk_ranges(first, last, chunk))


# ---- incremental state -------------------------------------------------------------------


def late_flow_conversion(sim: KlaviyoSimulator, when: datetime) -> str:
    """A Placed Order event at ``when`` that the simulator gives to a flow message."""
    order = next(
        e
        for e in sim.data.get("event")
        if e["relationships"]["metric"]["data"]["id"] == metric_id(sim, "Placed Order")
    )
    event_id = next(f"late{n}" for n in range(100) if _h("flow-conversion", f"late{n}") % 4 < 3)
    sim.data.add(
        "event",
        {
            "type": "event",
            "id": event_id,
            "attributes": {
                **order["attributes"],
                "datetime": when.isoformat(),
                "timestamp": int(when.timestamp()),
                "event_properties": {"$value": 42.5},
            },
            "relationships": order["relationships"],
        },
    )
    return event_id


def test_lookback_rereads_days_whose_attribution_changed(
    rsim: KlaviyoSimulator,
    rconfig: dict[str, Any],
    wall: Wall,
    run: Any,
) -> None:
    wall.now = datetime(2026, 11, 15, 12, tzinfo=timezone.utc)  # last day: 14 November
    config = {
        **rconfig,
        "reporting_start_date": "2026-11-01T12:00:00Z",
        "reporting_lookback_days": 3,
    }
    first = run(config, streams=["flow_values_reports"])
    days = [f"2026-11-{d:02d}" for d in range(1, 15)]
    # One STATE per finished window: resumable day by day.
    marks = [
        s["bookmarks"]["flow_values_reports"].get("replication_key_value")
        for s in first.states
        if "flow_values_reports" in s.get("bookmarks", {})
    ]
    assert [m for m in dict.fromkeys(marks) if m] == days
    state = bookmark(first, "flow_values_reports")
    assert state["replication_key_value"] == "2026-11-14"
    # Read on 15 November with a 3-day look-back, days through 11 November are final.
    assert state["settled_through"] == "2026-11-11"

    late_flow_conversion(rsim, datetime(2026, 11, 12, 15, tzinfo=timezone.utc))
    rsim.requests.clear()
    second = run(config, streams=["flow_values_reports"], state=first.state)
    timeframes = [b["timeframe"]["start"][:10] for b in bodies(rsim, "query_flow_values")]
    assert timeframes == ["2026-11-12", "2026-11-13", "2026-11-14"]
    before, after = keyed(first, "flow_values_reports"), keyed(second, "flow_values_reports")
    assert set(after) <= set(before), "re-read rows keep their primary keys"
    changed = [k for k in after if after[k]["conversions"] != before[k]["conversions"]]
    assert len(changed) == 1 and changed[0][-1] == "2026-11-12"
    assert after[changed[0]]["conversions"] == before[changed[0]]["conversions"] + 1
    assert bookmark(second, "flow_values_reports")["replication_key_value"] == "2026-11-14"

    rsim.requests.clear()
    none = run(
        {**config, "reporting_lookback_days": 0},
        streams=["flow_values_reports"],
        state={
            "bookmarks": {
                "flow_values_reports": {
                    "replication_key": "date",
                    "replication_key_value": "2026-11-14",
                }
            }
        },
    )
    assert not served(rsim, "query_flow_values") and not none.records

    wall.now = datetime(2026, 11, 17, 12, tzinfo=timezone.utc)
    rsim.requests.clear()
    run(config, streams=["flow_values_reports"], state=second.state)
    timeframes = [b["timeframe"]["start"][:10] for b in bodies(rsim, "query_flow_values")]
    assert timeframes == [f"2026-11-{d}" for d in range(12, 17)]


def test_an_interrupted_run_resumes_from_its_last_state(
    rsim: KlaviyoSimulator,
    rconfig: dict[str, Any],
    wall: Wall,
    fast_retries: None,
    run: Any,
    run_until_failure: Any,
) -> None:
    wall.now = datetime(2026, 11, 11, 12, tzinfo=timezone.utc)
    config = {
        **rconfig,
        "reporting_start_date": "2026-11-01T12:00:00Z",
        "reporting_lookback_days": 0,
    }
    clean = run(config, streams=["flow_values_reports"])
    rsim.requests.clear()
    fault = Fault(path_pattern=r"^/api/flow-values-reports$", status=500, times=None, after=4)
    rsim.faults.add(fault)
    broken, error = run_until_failure(config, streams=["flow_values_reports"])
    assert error is not None and "flow-values-reports" in str(error)
    assert bookmark(broken, "flow_values_reports")["replication_key_value"] == "2026-11-04"
    rsim.faults.remove(fault)
    resumed = run(config, streams=["flow_values_reports"], state=broken.state)
    assert {**keyed(broken, "flow_values_reports"), **keyed(resumed, "flow_values_reports")} == (
        keyed(clean, "flow_values_reports")
    )
    starts = [b["timeframe"]["start"][:10] for b in bodies(rsim, "query_flow_values")]
    assert starts[4:] == [f"2026-11-{d:02d}" for d in range(5, 11)]


# ---- the daily quota ---------------------------------------------------------------------


def test_the_daily_budget_stops_the_stream_cleanly_and_resumes_later(
    rsim: KlaviyoSimulator,
    rconfig: dict[str, Any],
    wall: Wall,
    caplog: Any,
    run: Any,
) -> None:
    config = {
        **rconfig,
        "parallel_streams": 4,
        "reporting_start_date": "2026-11-01T12:00:00Z",
        "end_date": "2026-11-15T12:00:00Z",  # last day: 14 November
        "reporting_daily_request_budget": 5,
    }
    streams = ["campaign_values_reports", "flow_series_reports", "metrics"]
    with caplog.at_level(logging.INFO):
        first = run(config, streams=streams)
    assert len(served(rsim, "query_campaign_values")) == 5
    state = bookmark(first, "campaign_values_reports")
    assert state["replication_key_value"] == "2026-11-05"
    assert sum(state["quota"]["requests_by_hour"].values()) == 5
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        "daily request budget for POST /api/campaign-values-reports is spent "
        "(reporting_daily_request_budget=5, 5 requests in the last 24 h); stopping before "
        "2026-11-06..2026-11-06" in w
        for w in warnings
    ), warnings
    assert any(
        "only 5 fit the budget, so this run reads through 2026-11-05" in r.getMessage()
        for r in caplog.records
    )
    # The other streams are not affected.
    assert bookmark(first, "flow_series_reports")["replication_key_value"] == "2026-11-14"
    assert len(first.records["metrics"]) == rsim.data.count("metric")

    rsim.requests.clear()
    same_day = run(config, streams=["campaign_values_reports"], state=first.state)
    assert not served(rsim, "query_campaign_values")
    assert bookmark(same_day, "campaign_values_reports")["replication_key_value"] == "2026-11-05"

    later = same_day.state
    parts = [first]
    for _ in range(2):
        wall.now += timedelta(hours=25)
        next_run = run(config, streams=["campaign_values_reports"], state=later)
        parts.append(next_run)
        later = next_run.state
    # No day read twice: the stopped backfill continues where it stopped.
    starts = [b["timeframe"]["start"][:10] for b in bodies(rsim, "query_campaign_values")]
    assert starts == [f"2026-11-{d:02d}" for d in range(6, 15)]
    assert later["bookmarks"]["campaign_values_reports"]["replication_key_value"] == "2026-11-14"


def test_klaviyos_daily_quota_stops_cleanly_and_the_state_resumes(
    rsim: KlaviyoSimulator,
    rconfig: dict[str, Any],
    clock: VirtualClock,
    wall: Wall,
    caplog: Any,
    run: Any,
    run_until_failure: Any,
) -> None:
    rsim.daily_quota = 3
    config = {
        **rconfig,
        "parallel_streams": 4,
        "reporting_start_date": "2026-11-01T12:00:00Z",
        "end_date": "2026-11-09T12:00:00Z",  # last day: 8 November
    }
    streams = ["campaign_values_reports", "flow_series_reports", "lists"]
    with caplog.at_level(logging.INFO):
        first, error = run_until_failure(config, streams=streams)
    assert error is None
    refused = served(rsim, "query_campaign_values", status=429)
    assert len(refused) == 1 and len(served(rsim, "query_campaign_values")) == 3
    state = bookmark(first, "campaign_values_reports")
    assert state["replication_key_value"] == "2026-11-03"
    assert sum(state["quota"]["requests_by_hour"].values()) == 3, "a 429 costs no quota"
    until = datetime.fromisoformat(state["quota"]["blocked_until"])
    assert timedelta(hours=23) < until - wall.now <= timedelta(hours=24)
    warning = next(
        r.getMessage() for r in caplog.records if "daily quota for POST" in r.getMessage()
    )
    assert "longer than max_retry_after_seconds=600" in warning
    assert "stopping before 2026-11-04..2026-11-04" in warning
    assert len(first.records["lists"]) == rsim.data.count("list")
    assert bookmark(first, "flow_series_reports")["replication_key_value"] == "2026-11-08"

    # Until Klaviyo's window ends, runs do not even try.
    rsim.requests.clear()
    caplog.clear()
    with caplog.at_level(logging.INFO):
        blocked = run(config, streams=["campaign_values_reports"], state=first.state)
    assert not served(rsim, "query_campaign_values", status=None)
    assert any("daily quota is spent until" in r.getMessage() for r in caplog.records)

    clock.sleep(86_400)
    wall.now += timedelta(hours=25)
    rsim.daily_quota = None
    resumed = run(config, streams=["campaign_values_reports"], state=blocked.state)
    starts = [b["timeframe"]["start"][:10] for b in bodies(rsim, "query_campaign_values")]
    assert starts == [f"2026-11-{d:02d}" for d in range(4, 9)]
    assert "blocked_until" not in bookmark(resumed, "campaign_values_reports")["quota"]


# ---- requests and records ----------------------------------------------------------------


def test_request_documents_follow_the_spec(
    rsim: KlaviyoSimulator,
    rconfig: dict[str, Any],
    run: Any,
) -> None:
    config = {**rconfig, "reporting_start_date": "2026-11-18T12:00:00Z"}
    run(config, streams=REPORT_STREAMS)
    placed = metric_id(rsim, "Placed Order")
    for stream_type in reporting.REPORT_STREAM_TYPES[:-1]:
        op = stream_type.spec_operation()
        records = served(rsim, op.operation_id)
        assert records, stream_type.name
        for request in records:
            assert request.headers["content-type"] == "application/vnd.api+json"
            document = json.loads(request.body)
            assert document["data"]["type"] == op.resource_type
            attributes = document["data"]["attributes"]
            assert attributes["statistics"] == list(DEFAULT_STATISTICS[stream_type.family])
            assert attributes.get("interval") == ("daily" if stream_type.kind == "series" else None)
            assert attributes.get("conversion_metric_id") == (
                placed if stream_type.conversion_metric else None
            )
            if stream_type.group_by is not None:
                assert attributes["group_by"] == list(stream_type.group_by)
    # The metric list is read once per run, whatever the number of streams needing it.
    assert len(served(rsim, "get_metrics")) == 1
    assert len(served(rsim, "get_accounts")) == 1


def test_every_record_fits_its_schema_with_stable_keys(
    rsim: KlaviyoSimulator,
    rconfig: dict[str, Any],
    run: Any,
) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    config = {
        **rconfig,
        "parallel_streams": 4,
        # Campaigns were sent on 11 April and 2 May 2025.
        "reporting_start_date": "2025-04-01T12:00:00Z",
        "end_date": "2025-05-21T12:00:00Z",
        "reporting_values_period": "week",
        "metric_aggregates": [
            {"name": "orders", "metric_name": "Placed Order", "measurements": ["count"]},
            {"name": "opens", "metric_name": "Opened Email", "by": ["Campaign Name", "Subject"]},
        ],
    }
    streams = [t.name for t in reporting.REPORT_STREAM_TYPES]
    run = run(config, streams=streams)
    checker = jsonschema.FormatChecker()
    for stream in streams:
        schema = run.schemas[stream]
        assert schema["bookmark_properties"] == ["date"]
        records = run.records.get(stream, [])
        assert records, stream
        validator = jsonschema.Draft7Validator(schema["schema"], format_checker=checker)
        for record in records:
            errors = list(validator.iter_errors(record))
            assert not errors, (stream, record, errors[0].message)
        keys = [tuple(r[k] for k in schema["key_properties"]) for r in records]
        assert len(keys) == len(set(keys)), stream
        assert all(None not in key for key in keys), stream
    campaign = run.records["campaign_values_reports"]
    assert {r["date"] for r in campaign} == {"2025-04-07", "2025-04-28"}
    assert all(0 <= r["open_rate"] <= 1 for r in campaign)
    opens = run.records["metric_aggregates"]
    assert {r["by_campaign_name"] for r in opens if r["query"] == "opens"} == {"Spring Sale 🌸"}


def test_catalog_leaves_report_streams_unselected(rconfig: dict[str, Any]) -> None:
    catalog = catalog_for(rconfig, None)
    selected = {
        entry["tap_stream_id"]: next(
            m["metadata"] for m in entry["metadata"] if m["breadcrumb"] == []
        )
        for entry in catalog["streams"]
        if entry["tap_stream_id"] in [t.name for t in reporting.REPORT_STREAM_TYPES]
    }
    assert len(selected) == 8
    for metadata in selected.values():
        assert metadata["selected-by-default"] is False
        assert metadata["selected"] is False


# ---- conversion metric -------------------------------------------------------------------


def test_conversion_metric_is_placed_order_unless_configured(
    rsim: KlaviyoSimulator,
    rconfig: dict[str, Any],
    caplog: Any,
    run: Any,
) -> None:
    config = {**rconfig, "reporting_start_date": "2026-11-19T12:00:00Z"}
    placed = metric_id(rsim, "Placed Order")
    run(config, streams=["campaign_values_reports"])
    assert [b["conversion_metric_id"] for b in bodies(rsim, "query_campaign_values")] == [placed]

    rsim.requests.clear()
    other = metric_id(rsim, "Viewed Product")
    run({**config, "conversion_metric_id": other}, streams=["flow_values_reports"])
    assert [b["conversion_metric_id"] for b in bodies(rsim, "query_flow_values")] == [other]
    assert not served(rsim, "get_metrics"), "no lookup when the id is given"

    rsim.requests.clear()
    rsim.data.add(
        "metric",
        {
            "type": "metric",
            "id": "NewOrd",
            "attributes": {
                "name": "Placed Order",
                "created": "2026-01-01T00:00:00+00:00",
                "updated": "2026-01-01T00:00:00+00:00",
                "integration": None,
            },
        },
    )
    with caplog.at_level(logging.WARNING):
        run(config, streams=["campaign_values_reports"])
    assert [b["conversion_metric_id"] for b in bodies(rsim, "query_campaign_values")] == [placed]
    assert any("2 metrics are named 'Placed Order'" in r.getMessage() for r in caplog.records)


# ---- metric aggregates -------------------------------------------------------------------


def orders_by_day(sim: KlaviyoSimulator, metric: str, first: date, last: date) -> dict[str, Any]:
    counts: dict[str, list[float]] = {}
    for event in sim.data.get("event"):
        if event["relationships"]["metric"]["data"]["id"] != metric:
            continue
        moment = datetime.fromisoformat(event["attributes"]["datetime"]).astimezone(EASTERN)
        if first <= moment.date() <= last:
            entry = counts.setdefault(moment.date().isoformat(), [0, 0.0])
            entry[0] += 1
            entry[1] += float((event["attributes"]["event_properties"] or {}).get("$value") or 0)
    return counts


def test_metric_aggregate_queries_by_id_and_by_name(
    rsim: KlaviyoSimulator,
    rconfig: dict[str, Any],
    run: Any,
) -> None:
    placed, opened = metric_id(rsim, "Placed Order"), metric_id(rsim, "Opened Email")
    config = {
        **rconfig,
        "reporting_start_date": "2025-01-01T12:00:00Z",
        "end_date": "2025-07-01T12:00:00Z",  # last day: 30 June 2025
        "metric_aggregates": [
            {
                "name": "orders",
                "metric_name": "Placed Order",
                "measurements": ["count", "sum_value", "unique"],
            },
            {
                "name": "opens_by_campaign",
                "metric_id": opened,
                "measurements": ["count"],
                "interval": "month",
                "by": ["Campaign Name"],
                "filter": ['equals(Subject,"Welcome 👋")'],
            },
        ],
    }
    run = run(config, streams=["metric_aggregates"])
    records = run.records["metric_aggregates"]
    orders = [r for r in records if r["query"] == "orders"]
    assert {r["metric_id"] for r in orders} == {placed}
    assert {r["timezone"] for r in orders} == {"US/Eastern"}
    assert len(orders) == 181  # one row (no group-by) per day, zeros included
    expected = orders_by_day(rsim, placed, date(2025, 1, 1), date(2025, 6, 30))
    assert expected, "the seed has orders in the first half of 2025"
    got = {r["date"]: [r["count"], r["sum_value"]] for r in orders if r["count"]}
    assert got.keys() == expected.keys()
    for day, (count, value) in expected.items():
        assert got[day][0] == count and float(got[day][1]) == pytest.approx(value), day

    opens = [r for r in records if r["query"] == "opens_by_campaign"]
    assert {r["date"] for r in opens} == {f"2025-{m:02d}-01" for m in range(1, 7)}
    assert {r["by_campaign_name"] for r in opens} == {"Spring Sale 🌸"}
    assert all(r["dimensions"] == ["Spring Sale 🌸"] for r in opens)
    assert all(r["dimensions_key"] == '["Spring Sale 🌸"]' for r in opens)

    documents = bodies(rsim, "query_metric_aggregates")
    assert [d["metric_id"] for d in documents] == [placed, opened]
    assert documents[0]["filter"] == [
        "greater-or-equal(datetime,2025-01-01T00:00:00)",
        "less-than(datetime,2025-07-01T00:00:00)",
    ]
    assert documents[0]["timezone"] == "US/Eastern"
    assert documents[1]["filter"][2] == 'equals(Subject,"Welcome 👋")'
    partitions = {
        p["context"]["query"]: p["replication_key_value"]
        for p in bookmark(run, "metric_aggregates")["partitions"]
    }
    assert partitions == {"orders": "2025-06-30", "opens_by_campaign": "2025-06-30"}


def test_metric_names_that_do_not_resolve_stop_with_a_clear_message(
    rsim: KlaviyoSimulator,
    rconfig: dict[str, Any],
    run_until_failure: Any,
) -> None:
    config = {
        **rconfig,
        "reporting_start_date": "2026-11-01T12:00:00Z",
        "metric_aggregates": [{"name": "x", "metric_name": "Placed Ordr"}],
    }
    _, error = run_until_failure(config, streams=["metric_aggregates"])
    assert error is not None
    assert "names metric 'Placed Ordr', which the account does not have" in str(error)
    assert "Placed Order" in str(error)

    rsim.data.add(
        "metric",
        {
            "type": "metric",
            "id": "Dup0rd",
            "attributes": {"name": "Placed Order", "created": "2026-01-01T00:00:00+00:00"},
        },
    )
    config["metric_aggregates"] = [{"name": "x", "metric_name": "Placed Order"}]
    _, error = run_until_failure(config, streams=["metric_aggregates"])
    assert error is not None and "2 metrics are named 'Placed Order'" in str(error)
    assert "Give `metric_id` instead" in str(error)


# ---- pagination --------------------------------------------------------------------------


def test_report_pages_follow_page_cursor(
    rsim: KlaviyoSimulator,
    rconfig: dict[str, Any],
    run: Any,
) -> None:
    config = {**rconfig, "reporting_start_date": "2026-11-17T12:00:00Z"}
    whole = run(config, streams=["flow_values_reports", "flow_series_reports"])
    rsim.requests.clear()
    rsim.report_page_size = 2
    paged = run(config, streams=["flow_values_reports", "flow_series_reports"])
    for operation_id, stream in (
        ("query_flow_values", "flow_values_reports"),
        ("query_flow_series", "flow_series_reports"),
    ):
        assert keyed(paged, stream) == keyed(whole, stream)
        by_body: dict[bytes, list[Any]] = {}
        for request in served(rsim, operation_id):
            by_body.setdefault(request.body, []).append(request)
        rows = whole.records[stream]
        for body, pages in by_body.items():
            day = json.loads(body)["data"]["attributes"]["timeframe"]["start"][:10]
            results = (
                len([r for r in rows if r["date"] == day])
                if stream == "flow_values_reports"
                else len({r["flow_message_id"] for r in rows})
            )
            # The same POST, body and all, once per page of 2 results; pages after the
            # first carry Klaviyo's page_cursor.
            assert len(pages) == max(1, -(-results // 2)), (day, results)
            cursors = [r.query.get("page_cursor") for r in pages]
            assert cursors[0] is None and all(cursors[1:])
        assert any(len(pages) > 1 for pages in by_body.values())


def test_metric_aggregate_pages_carry_the_cursor_in_the_body(
    rsim: KlaviyoSimulator,
    rconfig: dict[str, Any],
    run: Any,
) -> None:
    config = {
        **rconfig,
        "reporting_start_date": "2025-01-01T12:00:00Z",
        "end_date": "2026-01-01T12:00:00Z",
        "metric_aggregates": [
            {"name": "clicks", "metric_name": "Clicked Email", "by": ["URL"], "interval": "month"}
        ],
    }
    whole = run(config, streams=["metric_aggregates"])
    rsim.requests.clear()
    rsim.report_page_size = 3
    paged = run(config, streams=["metric_aggregates"])
    documents = bodies(rsim, "query_metric_aggregates")
    urls = {r["by_url"] for r in whole.records["metric_aggregates"]}
    assert len(urls) > 3
    assert len(documents) == -(-len(urls) // 3)
    assert "page_cursor" not in documents[0]
    assert all(d.get("page_cursor") for d in documents[1:])
    assert all(r.path == "/api/metric-aggregates" for r in served(rsim, "query_metric_aggregates"))
    assert keyed(paged, "metric_aggregates") == keyed(whole, "metric_aggregates")


# ---- settings ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"reporting_campaign_statistics": ["opens", "open_rte"]},
            "Invalid settings",
        ),
        ({"reporting_segment_statistics": []}, "is empty"),
        ({"reporting_values_period": "year"}, "Invalid settings"),
        ({"reporting_daily_request_budget": 0}, "must be at least 1"),
        ({"reporting_timezone": "Mars/Olympus"}, "not an IANA timezone"),
        ({"metric_aggregates": [{"metric_id": "x"}]}, "Invalid settings"),
        (
            {"metric_aggregates": [{"name": "a", "metric_id": "x", "metric_name": "y"}]},
            "exactly one of `metric_id` and `metric_name`",
        ),
        (
            {
                "metric_aggregates": [
                    {"name": "a", "metric_id": "x"},
                    {"name": "a", "metric_id": "y"},
                ]
            },
            "names 'a' twice",
        ),
        (
            {
                "metric_aggregates": [
                    {"name": "a", "metric_id": "x", "filter": ["less-than(datetime,2024-01-01)"]}
                ]
            },
            "must not bound `datetime`",
        ),
        ({"metric_aggregates": [{"name": "a b", "metric_id": "x"}]}, "needs a `name`"),
    ],
)
def test_bad_reporting_settings_fail_before_any_request(
    settings: dict[str, Any], message: str
) -> None:
    config = {"api_key": "pk_x", **settings}
    with pytest.raises(SettingsError, match=message):
        if message == "Invalid settings":  # the schema's enums and required keys
            TapKlaviyo(config=config)
        else:
            check_settings(config, set(TapKlaviyo.config_jsonschema["properties"]))


def test_statistics_settings_default_to_the_documented_lists() -> None:
    schema = TapKlaviyo.config_jsonschema["properties"]
    for family, statistics in DEFAULT_STATISTICS.items():
        prop = schema[statistics_setting(family)]
        assert prop["default"] == list(statistics)
        allowed = prop["items"]["enum"]
        assert set(statistics) <= set(allowed) == set(statistics_enum(family))
