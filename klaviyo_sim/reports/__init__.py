"""Klaviyo's reporting POSTs: body validation, results computed from the store, pagination.

The body rules come from the spec extract (``request_body`` of each operation): required
attributes, the enums of statistics, group-bys, intervals and timeframe keys, and the rules
the spec states in prose (required group-bys, interval and timeframe limits, where segment
data starts, filter attributes and operators).

Results are computed from the store, deterministically (see README.md, "Reports"):

* campaigns: one fact per sent campaign message, dated on its send day in the account's
  timezone; opens, clicks, unsubscribes and spam complaints keep arriving for
  ``CAMPAIGN_SETTLE_DAYS`` after the send, conversions are the conversion metric's events in
  the ``ATTRIBUTION_DAYS`` after it (so a report for a past day changes for days);
* flows: live flows' messages send every day from the flow's creation; the conversion
  metric's events no campaign claims go to one of them (or none) by the event's id;
* forms: live versions of live forms are viewed and submitted every day from creation;
* segments: ``members_added``/``total_members`` from the memberships' ``joined_group_at``.

A timeframe's start and end are read as wall-clock times in the account's timezone (the
spec: "Offset is ignored and the company timezone is used") and both end days count whole:
``start=2024-01-01T00:00:00, end=2024-01-02T00:00:00`` reports two days.

``ReportEngine`` is put together from ``body`` (validation), ``facts`` (per family),
``results`` (grouping, statistics, series) and ``aggregates`` (metric aggregates);
``pages`` binds cursors to the body, ``dates`` holds the calendar arithmetic.
"""

from __future__ import annotations

from ..data import SimData
from ..query import Cursors
from .aggregates import METRIC_AGGREGATE_MAX_PAGE_SIZE, UNSUPPORTED_TIMEZONES, MetricAggregates
from .body import REPORTS, BodyError, BodyRules, Query
from .dates import account_zone, key_timeframe
from .facts import ATTRIBUTION_DAYS, CAMPAIGN_SETTLE_DAYS, SEND_CHANNELS, Fact, _h
from .pages import DEFAULT_PAGE_SIZE, body_hash, decode_offset, encode_offset
from .results import LAST_VALUE, RATES, Results, statistic


class ReportEngine(BodyRules, Results, MetricAggregates):
    """Validates report bodies and computes their results; the caller holds the data lock."""

    def __init__(self, data: SimData, cursors: Cursors) -> None:
        self.data = data
        self.cursors = cursors


__all__ = [
    "ATTRIBUTION_DAYS",
    "CAMPAIGN_SETTLE_DAYS",
    "DEFAULT_PAGE_SIZE",
    "LAST_VALUE",
    "METRIC_AGGREGATE_MAX_PAGE_SIZE",
    "RATES",
    "REPORTS",
    "SEND_CHANNELS",
    "UNSUPPORTED_TIMEZONES",
    "BodyError",
    "Fact",
    "Query",
    "ReportEngine",
    "_h",
    "account_zone",
    "body_hash",
    "decode_offset",
    "encode_offset",
    "key_timeframe",
    "statistic",
]
