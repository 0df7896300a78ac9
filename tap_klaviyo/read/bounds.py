"""Run bounds: the range of the replication key one run reads for one context."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from tap_klaviyo.dates import parse_datetime


def saved_bookmark(
    tap_state: Mapping[str, Any],
    stream: str,
    partition_keys: Sequence[str] | None,
    context: Mapping[str, Any] | None,
) -> str | None:
    """The bookmark this run started from, read without touching the state."""
    state = tap_state.get("bookmarks", {}).get(stream, {})
    partition = (
        {k: v for k, v in context.items() if partition_keys is None or k in partition_keys}
        if context
        else None
    )
    if not partition:
        return state.get("replication_key_value")
    for entry in state.get("partitions", []):
        if entry.get("context") == partition:
            return entry.get("replication_key_value")
    return None


def run_start(
    *,
    bookmark: str | None,
    lookback: timedelta,
    floor: datetime | None,
    progress: str | None = None,
) -> datetime | None:
    """Where reading starts: the bookmark less the look-back, else ``floor``
    (``start_date``); never before ``floor``. A read restarted within a run starts at
    ``progress``, the last record it emitted, instead."""
    if progress:
        return max(parse_datetime(progress), floor) if floor else parse_datetime(progress)
    if not bookmark:
        return floor
    start = parse_datetime(bookmark) - lookback
    return max(start, floor) if floor else start


def run_end(end_date: datetime | None, run_started_at: datetime) -> datetime:
    """Records dated after the run began (or ``end_date``) wait for a later run, so a
    bad client clock can never push a bookmark into the future."""
    return end_date if end_date else run_started_at


def full_refresh_due(last: str | None, every_days: float, now: datetime) -> bool:
    """Whether a stream read in full every ``every_days`` days (0: never) is due: it has
    never been, or was ``every_days`` or more days ago."""
    if not every_days:
        return False
    return last is None or now - parse_datetime(last) >= timedelta(days=every_days)
