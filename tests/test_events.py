"""events: flat records with metric_id and profile_id, late arrivals, metric filter."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from klaviyo_sim import Fault
from tap_klaviyo.dates import parse_datetime, utc_iso
from tap_klaviyo.errors import SettingsError
from tests.conftest import run_tap, run_tap_until_failure


@pytest.mark.parametrize("workers", [1, 8])
def test_full_sync_emits_every_event_once_in_datetime_order(
    sim: Any, config: dict[str, Any], workers: int
) -> None:
    run = run_tap({**config, "max_workers": workers}, streams=["events"])
    records = run.records["events"]
    expected = {e["id"]: e for e in sim.data.get("event")}
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)) and set(ids) == set(expected)
    assert [r["datetime"] for r in records] == sorted(r["datetime"] for r in records)
    for record in records:
        event = expected[record["id"]]
        assert record["metric_id"] == event["relationships"]["metric"]["data"]["id"]
        assert record["profile_id"] == event["relationships"]["profile"]["data"]["id"]
        assert record["event_properties"] == event["attributes"]["event_properties"]
    assert any(
        isinstance(v, int) and v > 2**64
        for r in records
        for v in (r["event_properties"] or {}).values()
    ), "the seed has an integer over 64 bits and it must survive"


def test_late_event_is_caught_by_the_lookback(sim: Any, config: dict[str, Any]) -> None:
    first = run_tap(config, streams=["events"])
    bookmark = parse_datetime(first.state["bookmarks"]["events"]["replication_key_value"])
    late = dict(sim.data.get("event")[0])
    late["id"] = "late-event"
    late["attributes"] = {
        **late["attributes"],
        "datetime": utc_iso(bookmark - timedelta(days=1)),
        "timestamp": int((bookmark - timedelta(days=1)).timestamp()),
    }
    sim.data.add("event", late)

    without = run_tap(
        {**config, "events_lookback_window_days": 0}, streams=["events"], state=first.state
    )
    assert "late-event" not in without.ids("events")
    with_lookback = run_tap(config, streams=["events"], state=first.state)
    assert "late-event" in with_lookback.ids("events")
    # The re-read never moves the bookmark backwards.
    final = with_lookback.state["bookmarks"]["events"]["replication_key_value"]
    assert parse_datetime(final) >= bookmark


def test_event_metric_ids_limits_events_and_keeps_a_bookmark_per_metric(
    sim: Any, config: dict[str, Any]
) -> None:
    metrics = sorted({e["relationships"]["metric"]["data"]["id"] for e in sim.data.get("event")})
    chosen = metrics[:2]
    run = run_tap({**config, "event_metric_ids": chosen}, streams=["events"])
    assert {r["metric_id"] for r in run.records["events"]} == set(chosen)
    expected = [
        e["id"]
        for e in sim.data.get("event")
        if e["relationships"]["metric"]["data"]["id"] in chosen
    ]
    assert sorted(run.ids("events")) == sorted(expected)
    partitions = run.state["bookmarks"]["events"]["partitions"]
    assert sorted(p["context"]["metric_id"] for p in partitions) == chosen


def test_event_metric_ids_take_names_too(sim: Any, config: dict[str, Any]) -> None:
    """The same metric has a different id in every account: a name works everywhere."""
    names = {m["id"]: m["attributes"]["name"] for m in sim.data.get("metric")}
    placed = [i for i, name in names.items() if name == "Placed Order"]
    assert placed, "the seed has a Placed Order metric"
    other = next(i for i, name in names.items() if name != "Placed Order")
    run = run_tap({**config, "event_metric_ids": ["Placed Order", other]}, streams=["events"])
    assert {r["metric_id"] for r in run.records["events"]} <= {*placed, other}
    assert {r["metric_name"] for r in run.records["events"]} <= {"Placed Order", names[other]}
    expected = [
        e["id"]
        for e in sim.data.get("event")
        if e["relationships"]["metric"]["data"]["id"] in {*placed, other}
    ]
    assert sorted(run.ids("events")) == sorted(expected)
    partitions = run.state["bookmarks"]["events"]["partitions"]
    assert sorted(p["context"]["metric_id"] for p in partitions) == sorted({*placed, other})


def test_the_accounts_metrics_are_read_once_for_names_and_metric_name_alike(
    sim: Any, config: dict[str, Any]
) -> None:
    run = run_tap({**config, "event_metric_ids": ["Placed Order"]}, streams=["events"])
    assert run.records["events"]
    assert all(r["metric_name"] == "Placed Order" for r in run.records["events"])
    assert len(sim.requests.for_operation("get_metrics")) == 1


def test_an_unknown_metric_name_is_one_settings_line_before_any_event_request(
    sim: Any, config: dict[str, Any]
) -> None:
    run, error = run_tap_until_failure(
        {**config, "event_metric_ids": ["Placed Ordr"]}, streams=["events"]
    )
    assert isinstance(error, SettingsError)
    message = str(error)
    assert message.startswith(
        "Setting `event_metric_ids` has 'Placed Ordr', which is neither the id nor the name "
        "of a metric of this account (it has: "
    )
    assert "Placed Order" in message and "\n" not in message
    assert not sim.requests.for_operation("get_events")
    assert not run.records


def test_every_event_carries_its_metric_name(sim: Any, config: dict[str, Any]) -> None:
    run = run_tap(config, streams=["events"])
    names = {m["id"]: m["attributes"]["name"] for m in sim.data.get("metric")}
    for record in run.records["events"]:
        assert record["metric_name"] == names.get(record["metric_id"])
    assert {r["metric_name"] for r in run.records["events"]} - {None}


def test_the_metric_names_lookup_holds_no_other_stream_back(
    sim: Any, config: dict[str, Any]
) -> None:
    """Events look the metrics' names up on their own thread: the other streams (and
    the worker processes that render events) do not wait for Klaviyo's answer."""
    sim.faults.add(
        Fault(path_pattern=r"^/api/metrics$", kind="timeout", timeout_seconds=1.5, times=1)
    )
    run = run_tap(config, streams=["events", "tags"])
    lookup = sim.requests.for_operation("get_metrics")[0]
    assert sim.requests.for_operation("get_tags")[0].time < lookup.time + 1.0
    names = {m["id"]: m["attributes"]["name"] for m in sim.data.get("metric")}
    assert len(run.records["events"]) == len(sim.data.get("event"))
    for record in run.records["events"]:
        assert record["metric_name"] == names.get(record["metric_id"])


def test_metrics_full_table(sim: Any, config: dict[str, Any]) -> None:
    run = run_tap(config, streams=["metrics"])
    assert sorted(run.ids("metrics")) == sorted(m["id"] for m in sim.data.get("metric"))
    assert all("integration" in r and "name" in r for r in run.records["metrics"])


def test_metric_properties_of_every_metric(sim: Any, config: dict[str, Any]) -> None:
    run = run_tap(config, streams=["metrics", "metric_properties"])
    properties = sim.data.get("metric-property")
    emitted = run.ids("metric_properties")
    assert len(emitted) == len(set(emitted)) and set(emitted) == {p["id"] for p in properties}
    for record in run.records["metric_properties"]:
        ((_, metric),) = sim.data.targets("metric-property", record["id"], "metric")
        assert record["metric_id"] == metric
    # One request per metric, those without properties included (Klaviyo allows 15 a
    # minute on this endpoint, so the rate limit sets the pace).
    per_metric = {r.path for r in sim.requests if r.path.endswith("/metric-properties")}
    assert per_metric == {f"/api/metrics/{m}/metric-properties" for m in sim.data.ids("metric")}


def test_a_stream_s_own_start_limits_it_and_leaves_the_others(
    sim: Any, config: dict[str, Any]
) -> None:
    """A year of events, all of the profiles: `stream_start_dates` for events only."""
    stamps = sorted(e["attributes"]["datetime"].replace(" ", "T") for e in sim.data.get("event"))
    cut = stamps[len(stamps) // 2]
    run = run_tap({**config, "stream_start_dates": {"events": cut}}, streams=["events", "profiles"])
    expected = {
        e["id"]
        for e in sim.data.get("event")
        if parse_datetime(e["attributes"]["datetime"]) >= parse_datetime(cut)
    }
    assert set(run.ids("events")) == expected
    assert sorted(run.ids("profiles")) == sorted(sim.data.ids("profile"))
    days = run_tap({**config, "stream_start_dates": {"events": 0}}, streams=["events"])
    assert days.records.get("events", []) == []


def test_event_attributions_are_klaviyos_attribution_resources_with_their_event_datetime(
    sim: Any, config: dict[str, Any]
) -> None:
    run = run_tap(config, streams=["event_attributions"])
    rows = run.records["event_attributions"]
    stored = {a["id"]: a for a in sim.data.get("attribution")}
    events = sim.data.stored("event")
    assert sorted(r["id"] for r in rows) == sorted(stored)
    for row in rows:
        relationships = stored[row["id"]]["relationships"]
        for name, body in relationships.items():
            column = f"{name.replace('-', '_')}_id"
            assert row.get(column) == (body.get("data") or {}).get("id"), (row, name)
        assert row["datetime"] == utc_iso(
            parse_datetime(events[row["event_id"]]["attributes"]["datetime"])
        )
    keys = [r["datetime"] for r in rows]
    assert keys == sorted(keys)
    assert run.state["bookmarks"]["event_attributions"]["replication_key_value"] == keys[-1]
    # One events read that asks only for datetimes and the attributions.
    sent = [r for r in sim.requests if r.path == "/api/events"]
    assert sent and all(r.query.get("fields[event]") == ["datetime"] for r in sent)
    assert all(r.query.get("include") == ["attributions"] for r in sent)


def test_event_attributions_resume_from_their_bookmark_less_the_lookback(
    sim: Any, config: dict[str, Any]
) -> None:
    first = run_tap(config, streams=["event_attributions"])
    second = run_tap(config, streams=["event_attributions"], state=first.state)
    bookmark = parse_datetime(
        first.state["bookmarks"]["event_attributions"]["replication_key_value"]
    )
    again = second.records.get("event_attributions", [])
    assert all(parse_datetime(r["datetime"]) >= bookmark - timedelta(days=7) for r in again)
    assert len(again) < len(first.records["event_attributions"])
