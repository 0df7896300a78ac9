"""The checks that reject bad settings before any request, each in one line."""

from __future__ import annotations

import difflib
import re
from typing import Any
from urllib.parse import urlsplit

from tap_klaviyo.dates import parse_datetime
from tap_klaviyo.errors import SettingsError

_REVISION = re.compile(r"^\d{4}-\d{2}-\d{2}(\.[A-Za-z0-9_-]+)?$")


def check_general(config: dict[str, Any]) -> None:
    """Catch bad general settings before any request, each with a one-line reason."""
    key = config.get("api_key")
    if not isinstance(key, str) or not key.strip():
        raise SettingsError("Setting `api_key` is empty: give a Klaviyo private API key (pk_...).")
    dates = {}
    for name in ("start_date", "end_date"):
        value = config.get(name)
        if value in (None, ""):
            continue
        try:
            dates[name] = parse_datetime(str(value))
        except ValueError:
            raise SettingsError(
                f"Setting `{name}` is not an RFC 3339 date-time: {value!r} "
                "(example: 2024-01-31T00:00:00Z)."
            ) from None
    if "start_date" in dates and "end_date" in dates and dates["end_date"] <= dates["start_date"]:
        raise SettingsError(
            f"Setting `end_date` ({config['end_date']}) must be after "
            f"`start_date` ({config['start_date']})."
        )
    revision = config.get("revision")
    if revision not in (None, "") and not _REVISION.match(str(revision)):
        raise SettingsError(
            f"Setting `revision` must look like YYYY-MM-DD (optionally .suffix), got {revision!r}."
        )
    api_url = config.get("api_url")
    if api_url not in (None, ""):
        parts = urlsplit(str(api_url))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SettingsError(
                f"Setting `api_url` must be an http(s) URL such as https://a.klaviyo.com, "
                f"got {api_url!r}."
            )
    processes = config.get("render_processes")
    if processes is not None and (type(processes) is not int or processes < 0):
        raise SettingsError(
            f"Setting `render_processes` must be a whole number, 0 or more, got {processes!r}."
        )
    share = config.get("max_requests_per_minute_share")
    # 0 takes the default (all of the quota).
    if not 0 <= _number(share, 1.0) <= 1:
        raise SettingsError(
            f"Setting `max_requests_per_minute_share` must be a fraction of the quota "
            f"between 0 and 1, got {share!r}."
        )
    every = config.get("progress_seconds")
    if _number(every, 0.0) < 0:
        raise SettingsError(f"Setting `progress_seconds` must be 0 or more, got {every!r}.")


def _number(value: Any, absent: float) -> float:
    """A setting's value as a number; ``absent`` when it is not given, or is text that is
    no number (check_numbers names that)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return absent


def check_stream_starts(config: dict[str, Any], streams: set[str]) -> None:
    """`stream_start_dates` names streams the tap has, each with a date-time or days."""
    for name, value in (config.get("stream_start_dates") or {}).items():
        where = "Setting `stream_start_dates`"
        if name not in streams:
            close = difflib.get_close_matches(name, sorted(streams), n=1)
            hint = f" Did you mean `{close[0]}`?" if close else ""
            raise SettingsError(f"{where} names `{name}`, which is not a stream of the tap.{hint}")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if value < 0:
                raise SettingsError(f"{where}: `{name}` must be 0 or more days, got {value!r}.")
            continue
        try:
            parse_datetime(str(value))
        except ValueError:
            raise SettingsError(
                f"{where}: `{name}` must be an RFC 3339 date-time or a number of days, "
                f"got {value!r}."
            ) from None


def check_known(config: dict[str, Any], known: set[str]) -> None:
    """Every setting given is one the tap has (typos are the usual cause)."""
    for name in config:
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f" Did you mean `{close[0]}`?" if close else ""
            raise SettingsError(f"Unknown setting `{name}`.{hint}")


def check_numbers(config: dict[str, Any], schema: dict[str, Any]) -> None:
    """Numbers given as text (schema.NUMBER: environment variables) must read as numbers."""
    for name, prop in schema.get("properties", {}).items():
        value = config.get(name)
        if {"number", "string"} <= set(prop.get("type") or ()) and isinstance(value, str):
            try:
                float(value)
            except ValueError:
                raise SettingsError(f"Setting `{name}` must be a number: {value!r}.") from None
