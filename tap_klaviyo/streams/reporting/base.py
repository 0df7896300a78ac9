"""What report streams and metric aggregates share: POSTs paged by one loop, the
account's timezone and metrics, the days a run reads and the bookmark it moves."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

import requests
from singer_sdk.helpers.types import Context

from tap_klaviyo.client import KlaviyoStream
from tap_klaviyo.dates import CLOCK, named_zone, parse_datetime
from tap_klaviyo.errors import KlaviyoError
from tap_klaviyo.read.pages import paginate
from tap_klaviyo.read.recovery import read_recovering
from tap_klaviyo.settings import REPORTING_HISTORY_DAYS
from tap_klaviyo.streams.lookups import account_metrics, account_zone
from tap_klaviyo.streams.reporting import calendar
from tap_klaviyo.transport.jsonapi import response_json

# A day range that pages more than this is surely looping on a bad cursor.
MAX_PAGES_PER_RANGE = 1000


class ReportingStream(KlaviyoStream):
    rest_method = "POST"
    # They spend quotas other integrations on the account share (reports: 225 a day per
    # endpoint), so a user opts in.
    selected_by_default = False
    replication_key = "date"
    # Bookmarks move per finished day range (``advance``), not per record: a range's
    # rows come in groupings order and its last days may have no rows at all.
    bookmarks_per_record = False

    @property
    def max_retry_after(self) -> float:
        return float(self.settings.max_retry_after_seconds)

    @property
    def zone(self) -> ZoneInfo:
        """The account's timezone: report timeframes are read in it."""
        configured = self.settings.reporting_timezone
        if configured:
            return named_zone(str(configured), "reporting_timezone")
        return account_zone(self.run_tap, self.name, self.logger)

    def metrics(self) -> list[dict[str, Any]]:
        return account_metrics(self.run_tap, self.name, self.logger)

    def metric_by_name(self, name: str, *, pick_first: bool) -> dict[str, Any] | None:
        found = sorted(
            (m for m in self.metrics() if m.get("name") == name),
            key=lambda m: (str(m.get("created") or ""), str(m.get("id"))),
        )
        if len(found) <= 1 or pick_first:
            return found[0] if found else None
        described = ", ".join(f"{m['id']} ({integration_name(m)})" for m in found)
        raise KlaviyoError(
            f"Stream '{self.name}': {len(found)} metrics are named {name!r}: {described}. "
            "Give `metric_id` instead."
        )

    # ---- the days a run reads -------------------------------------------------------

    @cached_property
    def started_at(self) -> datetime:
        """When this stream's run began (``CLOCK.now``): today, the default history and
        which days are settled are reckoned from it."""
        return CLOCK.now()

    def today(self, zone: ZoneInfo | None = None) -> date:
        return self.started_at.astimezone(zone or self.zone).date()

    def last_day(self, zone: ZoneInfo | None = None) -> date:
        zone = zone or self.zone
        return calendar.last_complete_day(self.today(zone), self.settings.end, zone)

    def initial_day(self, zone: ZoneInfo | None = None) -> date:
        """``reporting_start_date``'s calendar date as written (a local day: its time and
        offset do not move it), else ``REPORTING_HISTORY_DAYS`` before today."""
        start = self.settings.reporting_start_date
        if start:
            return parse_datetime(str(start)).date()
        return self.today(zone) - timedelta(days=REPORTING_HISTORY_DAYS)

    @property
    def lookback_days(self) -> int:
        return int(self.settings.reporting_lookback_days)

    def first_day(
        self, context: Context | None, floor: date | None, zone: ZoneInfo | None = None
    ) -> date:
        """Where this run starts: after the last settled day (see ``advance``), else the
        bookmark less the look-back, else the start date."""
        state = self.get_context_state(context)
        start = calendar.first_day(
            bookmark=state.get("replication_key_value"),
            settled=state.get("settled_through"),
            lookback_days=self.lookback_days,
            initial=self.initial_day(zone),
            configured_start=bool(self.settings.reporting_start_date),
        )
        return max(start, floor) if floor else start

    def advance(self, context: Context | None, day: date, zone: ZoneInfo | None = None) -> None:
        """Every day through ``day`` is read: move the bookmark (never back) and say so.

        ``settled_through`` is the last day read when it was more than
        ``reporting_lookback_days`` old, so its numbers no longer change: the next run
        starts after it. In a daily schedule that re-reads the last look-back days; in a
        backfill cut short by the quota it re-reads nothing and goes on where it stopped.
        """
        state = self.get_context_state(context)
        current = state.get("replication_key_value")
        value = day.isoformat()
        if not current or value > str(current):
            state["replication_key"] = self.replication_key
            state["replication_key_value"] = value
        final = self.today(zone) - timedelta(days=self.lookback_days + 1)
        settled = min(day, final).isoformat()
        if not state.get("settled_through") or settled > str(state["settled_through"]):
            state["settled_through"] = settled
        self.state_manager.is_flushed = False
        self.write_state()

    # ---- requests ---------------------------------------------------------------------

    def post_pages(
        self,
        context: dict[str, Any],
        next_token: Callable[[dict[str, Any]], Any],
        send: Callable[[requests.PreparedRequest], requests.Response] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The bodies of one POST and the pages after it, following ``next_token``
        (taken from each body) through ``get_http_request``."""
        for response in paginate(
            self.request_for(context, None, None),
            send or self.send,
            lambda response: next_token(response_json(response)),
            lambda token: self.request_for(context, token, None),
            stream=self.name,
            max_pages=MAX_PAGES_PER_RANGE,
            unit="window",
        ):
            yield response_json(response)

    def read_recovering(
        self, attempt: Callable[[bool], Iterator[dict[str, Any]]], again: Callable[[], str]
    ) -> Iterator[dict[str, Any]]:
        """``attempt``'s records, with Klaviyo's refusals handled by the recovery table
        collection streams use too."""
        return read_recovering(
            attempt,
            stream=self.name,
            is_child=False,
            ignore_forbidden=self.settings.ignore_forbidden_streams,
            logger=self.logger,
            again=again,
        )


def integration_name(metric: dict[str, Any]) -> str:
    integration = metric.get("integration")
    if isinstance(integration, dict):
        return str(integration.get("name") or integration.get("key") or "no integration")
    return "no integration"
