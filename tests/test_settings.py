"""Settings: one default per setting, shared by the config schema and the typed
``Settings``; what an empty value means; the checks that run before any request."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tap_klaviyo import spec
from tap_klaviyo.errors import SettingsError
from tap_klaviyo.settings import (
    DEFAULTS,
    REPORT_FAMILIES,
    Settings,
    check_general,
    check_known,
    config_schema,
    statistics_enum,
    statistics_setting,
)
from tap_klaviyo.tap import TapKlaviyo

SCHEMA = config_schema()["properties"]
FIELDS = {field.name: field for field in dataclasses.fields(Settings)}


def test_every_setting_is_in_the_schema_and_in_settings() -> None:
    assert set(SCHEMA) == set(FIELDS)


@pytest.mark.parametrize("name", sorted(FIELDS))
def test_the_schema_default_is_the_settings_default(name: str) -> None:
    default = getattr(Settings(), name)
    if "default" in SCHEMA[name]:
        shown = SCHEMA[name]["default"]
        assert (tuple(shown) if isinstance(shown, list) else shown) == default
    else:
        # No default in the schema: the setting is off until given.
        assert default in (None, "", ())


def test_the_revision_default_is_the_spec_extracts() -> None:
    assert DEFAULTS.revision == spec.revision()


@pytest.mark.parametrize("family", sorted(REPORT_FAMILIES))
def test_default_statistics_are_ones_klaviyo_offers(family: str) -> None:
    assert set(DEFAULTS.statistics(family)) <= set(statistics_enum(family))
    assert DEFAULTS.statistics(family) == getattr(DEFAULTS, statistics_setting(family))


def test_from_config_of_nothing_is_the_defaults() -> None:
    assert Settings.from_config({}) == DEFAULTS
    assert Settings.from_config({name: None for name in FIELDS}) == DEFAULTS
    # The SDK's own settings (stream maps, flattening) are not the tap's.
    assert Settings.from_config({"stream_maps": {}, "flattening_enabled": True}) == DEFAULTS


@pytest.mark.parametrize(
    ("name", "empty"),
    [
        ("api_url", ""),
        ("revision", ""),
        ("max_requests_per_minute_share", 0),
        ("max_requests_per_minute_share", 0.0),
        ("max_workers", 0),
        ("max_retry_after_seconds", 0),
        ("reporting_values_period", ""),
        *((statistics_setting(family), []) for family in sorted(REPORT_FAMILIES)),
    ],
)
def test_an_empty_value_where_empty_means_nothing_takes_the_default(name: str, empty: Any) -> None:
    assert getattr(Settings.from_config({name: empty}), name) == getattr(DEFAULTS, name)


@pytest.mark.parametrize(
    ("name", "zero", "kept"),
    [
        # 0 renders pages in the tap's own process.
        ("render_processes", 0, 0),
        # 0 turns the progress lines off.
        ("progress_seconds", 0, 0),
        ("events_lookback_window_days", 0, 0),
        ("reporting_lookback_days", 0, 0),
        ("parallel_streams", 0, 0),
        ("ignore_forbidden_streams", False, False),
        ("event_metric_ids", [], ()),
    ],
)
def test_a_zero_that_means_zero_is_kept(name: str, zero: Any, kept: Any) -> None:
    assert getattr(Settings.from_config({name: zero}), name) == kept


def test_lists_become_tuples() -> None:
    settings = Settings.from_config(
        {"event_metric_ids": ["m1", "m2"], "metric_aggregates": [{"name": "q"}]}
    )
    assert settings.event_metric_ids == ("m1", "m2")
    assert settings.metric_aggregates == ({"name": "q"},)


def test_derived_values() -> None:
    settings = Settings.from_config(
        {
            "api_url": "http://127.0.0.1:8080/",
            "start_date": "2024-01-01T00:00:00Z",
            "end_date": "2024-02-01T12:00:00+02:00",
            "max_workers": -3,
            "parallel_streams": 0,
        }
    )
    assert settings.base_url == "http://127.0.0.1:8080"
    assert settings.start == datetime(2024, 1, 1, tzinfo=timezone.utc)
    assert settings.end == datetime(2024, 2, 1, 10, tzinfo=timezone.utc)
    assert settings.workers == 1 and settings.streams_at_once == 1
    assert DEFAULTS.start is None and DEFAULTS.end is None
    assert DEFAULTS.workers == 16 and DEFAULTS.streams_at_once == 8


@pytest.mark.parametrize(
    ("share", "steady", "quota"),
    [(None, 750, 750), (0.5, 750, 375), (0.25, 60, 15), (0.001, 60, 1), (0.5, 3, 1)],
)
def test_quota_per_minute_is_the_taps_share_never_below_one(
    share: float | None, steady: int, quota: int
) -> None:
    settings = Settings.from_config({"max_requests_per_minute_share": share})
    assert settings.quota_per_minute(steady) == quota


def test_the_events_look_back_default_is_the_settings_default(tap: TapKlaviyo) -> None:
    assert tap.streams["events"].lookback == timedelta(days=DEFAULTS.events_lookback_window_days)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "Setting `api_key` is empty: give a Klaviyo private API key (pk_...)."),
        ({"api_key": "  "}, "Setting `api_key` is empty: give a Klaviyo private API key (pk_...)."),
        (
            {"api_key": "pk", "start_date": "last tuesday"},
            "Setting `start_date` is not an RFC 3339 date-time: 'last tuesday' "
            "(example: 2024-01-31T00:00:00Z).",
        ),
        (
            {"api_key": "pk", "end_date": "2024-13-45"},
            "Setting `end_date` is not an RFC 3339 date-time: '2024-13-45' "
            "(example: 2024-01-31T00:00:00Z).",
        ),
        (
            {
                "api_key": "pk",
                "start_date": "2024-05-01T00:00:00Z",
                "end_date": "2024-05-01T00:00:00Z",
            },
            "Setting `end_date` (2024-05-01T00:00:00Z) must be after "
            "`start_date` (2024-05-01T00:00:00Z).",
        ),
        (
            {"api_key": "pk", "revision": "v3"},
            "Setting `revision` must look like YYYY-MM-DD (optionally .suffix), got 'v3'.",
        ),
        (
            {"api_key": "pk", "api_url": "a.klaviyo.com"},
            "Setting `api_url` must be an http(s) URL such as https://a.klaviyo.com, "
            "got 'a.klaviyo.com'.",
        ),
        (
            {"api_key": "pk", "render_processes": True},
            "Setting `render_processes` must be a whole number, 0 or more, got True.",
        ),
        (
            {"api_key": "pk", "render_processes": -1},
            "Setting `render_processes` must be a whole number, 0 or more, got -1.",
        ),
        (
            {"api_key": "pk", "progress_seconds": "-5"},
            "Setting `progress_seconds` must be 0 or more, got '-5'.",
        ),
        (
            {"api_key": "pk", "max_requests_per_minute_share": 1.5},
            "Setting `max_requests_per_minute_share` must be a fraction of the quota "
            "between 0 and 1, got 1.5.",
        ),
        (
            {"api_key": "pk", "max_requests_per_minute_share": "-0.2"},
            "Setting `max_requests_per_minute_share` must be a fraction of the quota "
            "between 0 and 1, got '-0.2'.",
        ),
    ],
)
def test_check_general_names_the_setting(config: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        check_general(config)
    assert str(caught.value) == message


def test_check_general_accepts_good_settings() -> None:
    check_general(
        {
            "api_key": "pk_live",
            "start_date": "2024-01-01T00:00:00Z",
            "end_date": "2024-01-02T00:00:00+00:00",
            "revision": "2024-10-15.pre",
            "api_url": "http://127.0.0.1:9000",
            "render_processes": 0,
            "progress_seconds": 0,
            "max_requests_per_minute_share": "0.5",
        }
    )
    check_general({"api_key": "pk", "start_date": "", "revision": "", "api_url": ""})


def test_check_known_suggests_the_setting_meant() -> None:
    with pytest.raises(SettingsError) as caught:
        check_known({"api_key": "pk", "max_worker": 2}, set(SCHEMA))
    assert str(caught.value) == "Unknown setting `max_worker`. Did you mean `max_workers`?"
    with pytest.raises(SettingsError) as caught:
        check_known({"zzz": 1}, set(SCHEMA))
    assert str(caught.value) == "Unknown setting `zzz`."
    check_known({"api_key": "pk", "max_workers": 2}, set(SCHEMA))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            {"evnts": 30},
            "Setting `stream_start_dates` names `evnts`, which is not a stream of the tap. "
            "Did you mean `events`?",
        ),
        ({"events": -1}, "Setting `stream_start_dates`: `events` must be 0 or more days, got -1."),
        (
            {"events": "last year"},
            "Setting `stream_start_dates`: `events` must be an RFC 3339 date-time or a number "
            "of days, got 'last year'.",
        ),
    ],
)
def test_stream_start_dates_are_checked(value: dict, message: str) -> None:
    from tap_klaviyo.settings import check_stream_starts
    from tap_klaviyo.streams import STREAM_TYPES

    with pytest.raises(SettingsError) as caught:
        check_stream_starts({"stream_start_dates": value}, {s.name for s in STREAM_TYPES})
    assert str(caught.value) == message


def test_a_stream_s_start_is_the_later_of_its_own_and_start_date() -> None:
    from datetime import datetime, timezone

    now = datetime(2026, 12, 1, tzinfo=timezone.utc)
    settings = Settings.from_config(
        {
            "start_date": "2025-06-01T00:00:00Z",
            "stream_start_dates": {"events": 365, "lists": "2020-01-01T00:00:00Z"},
        }
    )
    assert settings.start_for("events", now) == datetime(2025, 12, 1, tzinfo=timezone.utc)
    assert settings.start_for("lists", now) == datetime(2025, 6, 1, tzinfo=timezone.utc)
    assert settings.start_for("profiles", now) == datetime(2025, 6, 1, tzinfo=timezone.utc)


NUMBER_SETTINGS = [
    name
    for name, prop in config_schema()["properties"].items()
    if {"number", "string"} <= set(prop.get("type") or ())
]


def test_numbers_of_days_and_shares_read_as_text_too() -> None:
    # Meltano passes a decimal from an environment variable as text (and fails on its own
    # Decimal type when the setting is declared `decimal`); the SDK's --config ENV too.
    assert "members_full_refresh_days" in NUMBER_SETTINGS
    assert "max_requests_per_minute_share" in NUMBER_SETTINGS
    settings = Settings.from_config({name: " 0.5" for name in NUMBER_SETTINGS})
    assert all(getattr(settings, name) == 0.5 for name in NUMBER_SETTINGS)


@pytest.mark.parametrize("name", NUMBER_SETTINGS)
def test_text_that_is_no_number_is_one_line_naming_the_setting(name: str) -> None:
    with pytest.raises(SettingsError, match=rf"^Setting `{name}` must be a number: 'soon'\.$"):
        TapKlaviyo(config={"api_key": "pk_unit", name: "soon"}, parse_env_config=False)
