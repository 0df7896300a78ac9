"""Klaviyo's Reporting API and metric aggregates, read as incremental, quota-aware streams.

Report endpoints answer POSTs with aggregates over a timeframe: "values" (one number per
grouping) or "series" (one number per grouping and interval). They allow 1 request/s,
2/min and 225/day per account and endpoint, so each run:

* aligns its day ranges to whole days in the account's timezone (``GET /api/accounts``),
  asks for ``start 00:00:00`` to ``end 23:59:59`` local time (the endpoints count both end
  days of a timeframe, so a range never overlaps the next one) and reads complete days only;
* re-reads ``reporting_lookback_days`` before its bookmark, because attribution keeps
  changing for days; records keep stable primary keys (groupings and day), so targets upsert;
* counts its requests per endpoint in the state (the last 24 hours), plans them up front,
  logs how long they take, and stops a stream cleanly when ``reporting_daily_request_budget``
  or Klaviyo's daily quota is spent: the bookmark covers every finished range, the next run
  continues from there and the other streams are not affected.

Modules: ``settings`` (their checks), ``calendar`` (day ranges), ``quota`` (plans and the
request ledger), ``lookups`` (the account's timezone and metrics, once per run), ``base``
(the one POST paging loop and the bookmark), ``reports`` and ``aggregates`` (the streams).
"""

from __future__ import annotations

from tap_klaviyo.streams.reporting.aggregates import MetricAggregatesStream, dimension_column
from tap_klaviyo.streams.reporting.base import ReportingStream
from tap_klaviyo.streams.reporting.reports import (
    CampaignValuesReportsStream,
    FlowSeriesReportsStream,
    FlowValuesReportsStream,
    FormSeriesReportsStream,
    FormValuesReportsStream,
    ReportStream,
    SegmentSeriesReportsStream,
    SegmentValuesReportsStream,
)
from tap_klaviyo.streams.reporting.settings import check_reporting_settings

REPORT_STREAM_TYPES = [
    CampaignValuesReportsStream,
    FlowValuesReportsStream,
    FlowSeriesReportsStream,
    FormValuesReportsStream,
    FormSeriesReportsStream,
    SegmentValuesReportsStream,
    SegmentSeriesReportsStream,
    MetricAggregatesStream,
]

__all__ = [
    "REPORT_STREAM_TYPES",
    "ReportStream",
    "ReportingStream",
    "check_reporting_settings",
    "dimension_column",
]
