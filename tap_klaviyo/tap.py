"""tap-klaviyo: the Tap, its settings and its streams."""

from __future__ import annotations

import difflib
import gc
import io
import json
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import IO, Any
from urllib.parse import urlsplit

from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError

from tap_klaviyo import spec
from tap_klaviyo.client import KlaviyoError, parse_datetime
from tap_klaviyo.output import LeanWriter
from tap_klaviyo.render import RenderPool, can_fork, default_processes
from tap_klaviyo.streams import STREAM_TYPES, reporting

_REVISION = re.compile(r"^\d{4}-\d{2}-\d{2}(\.[A-Za-z0-9_-]+)?$")


def start_order(stream: Any) -> tuple[int, float]:
    """Streams that take longest start first, so the short ones fill in around them:
    high-volume streams read in windows, then those whose own or children's endpoint
    has the smallest quota (e.g. metric_properties at 15 requests a minute)."""

    def quotas(node: Any) -> list[float]:
        own = getattr(node, "operation", None)
        found = [own.steady_per_minute] if own and own.steady_per_minute else []
        for child in node.child_streams:
            if child.selected or child.has_selected_descendents:
                found += quotas(child)
        return found

    return (0 if getattr(stream, "parallel_windows", False) else 1, min(quotas(stream) or [1e9]))


class SettingsError(ValueError):
    """A setting is wrong; the message names it and fits on one line."""


def check_settings(config: dict[str, Any], known: set[str]) -> None:
    """Catch bad settings before any request, each with a one-line reason."""
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
    reporting.check_reporting_settings(config, SettingsError)
    for name in config:
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f" Did you mean `{close[0]}`?" if close else ""
            raise SettingsError(f"Unknown setting `{name}`.{hint}")


def checked_file(handle: IO[str], kind: str, check: Any) -> IO[str]:
    """Read a --state or --catalog file, reject it in one line if it is not ours."""
    name = getattr(handle, "name", kind)
    text = handle.read()
    try:
        content = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise SettingsError(f"The {kind} file {name} is not valid JSON: {exc}.") from None
    check(content, name)
    return io.StringIO(text)


def check_state(state: Any, name: str) -> None:
    if not isinstance(state, dict):
        raise SettingsError(f"The state file {name} must hold a JSON object.")
    bookmarks = state.get("bookmarks", {})
    if not isinstance(bookmarks, dict):
        raise SettingsError(f"The state file {name} has `bookmarks` that are not an object.")
    ours = {stream.name for stream in STREAM_TYPES}
    if bookmarks and not ours & set(bookmarks):
        raise SettingsError(
            f"The state file {name} is not from tap-klaviyo: it has bookmarks for "
            f"{', '.join(sorted(bookmarks)[:5])}."
        )


def check_catalog(catalog: Any, name: str) -> None:
    entries = catalog.get("streams") if isinstance(catalog, dict) else None
    if not isinstance(entries, list):
        raise SettingsError(f"The catalog file {name} has no `streams` list.")
    ids = {e.get("tap_stream_id") or e.get("stream") for e in entries if isinstance(e, dict)}
    ours = {stream.name for stream in STREAM_TYPES}
    if not ours & ids:
        found = ", ".join(sorted(str(i) for i in ids)[:5]) or "none"
        raise SettingsError(
            f"The catalog file {name} describes no tap-klaviyo stream (found: {found}); "
            "run `tap-klaviyo --discover` to make one."
        )


class TapKlaviyo(Tap):
    """Singer tap for Klaviyo."""

    name = "tap-klaviyo"
    message_writer_class = LeanWriter

    config_jsonschema = th.PropertiesList(
        th.Property(
            "api_key",
            th.StringType,
            required=True,
            secret=True,
            title="API key",
            description="Klaviyo private API key (pk_...), with the read scopes of the "
            "selected streams.",
        ),
        th.Property(
            "start_date",
            th.DateTimeType,
            title="Start date",
            description="Earliest record to extract (RFC 3339). Default: all history.",
        ),
        th.Property(
            "end_date",
            th.DateTimeType,
            title="End date",
            description="Latest record to extract (RFC 3339, exclusive). Default: the "
            "moment the run starts.",
        ),
        th.Property(
            "api_url",
            th.StringType,
            default="https://a.klaviyo.com",
            title="API URL",
            description="Base URL; requests go to {api_url}/api/... (proxies, the simulator).",
        ),
        th.Property(
            "revision",
            th.StringType,
            default=spec.revision(),
            title="API revision",
            description="Klaviyo API revision sent in the `revision` header.",
        ),
        th.Property(
            "max_requests_per_minute_share",
            th.NumberType,
            default=1.0,
            title="Share of the rate limit",
            description="Fraction (0-1] of each endpoint's per-minute quota this tap may "
            "use, leaving the rest to other integrations on the same account.",
        ),
        th.Property(
            "max_workers",
            th.IntegerType,
            default=16,
            title="Parallel requests per stream",
            description="Worker threads per stream: events and profiles read time windows "
            "in parallel, child streams fetch many parents at once. 1 reads serially.",
        ),
        th.Property(
            "render_processes",
            th.IntegerType,
            title="Worker processes",
            description="Worker processes that turn pages of `events` and `profiles` (the "
            "streams read in parallel time windows) into Singer records, so extraction is "
            "not bound to one CPU core. Default: the CPU count, at most 4. 0 renders them "
            "in the tap's own process.",
        ),
        th.Property(
            "parallel_streams",
            th.IntegerType,
            default=4,
            title="Streams at once",
            description="How many top-level streams (each with its children) sync at the "
            "same time. Klaviyo's quotas are per endpoint, so they do not compete.",
        ),
        th.Property(
            "emit_activate_version_messages",
            th.BooleanType,
            default=False,
            title="Emit ACTIVATE_VERSION",
            description="For full-table streams, send ACTIVATE_VERSION after the last record "
            "so targets can drop rows Klaviyo no longer returns (deleted records).",
        ),
        th.Property(
            "max_retry_after_seconds",
            th.IntegerType,
            default=600,
            title="Longest 429 wait",
            description="A 429 asking to wait longer than this stops the run (resumable) "
            "instead of hanging.",
        ),
        th.Property(
            "events_lookback_window_days",
            th.NumberType,
            default=3,
            title="Events look-back (days)",
            description="Each run re-reads this many days of events before the bookmark, "
            "because Klaviyo can surface events days after their datetime.",
        ),
        th.Property(
            "event_metric_ids",
            th.ArrayType(th.StringType),
            title="Event metric ids",
            description="Extract only events of these metrics (each with its own bookmark). "
            "Default: every metric.",
        ),
        th.Property(
            "profiles_additional_fields",
            th.ArrayType(th.StringType(allowed_values=["subscriptions", "predictive_analytics"])),
            title="Profile additional fields",
            description="Extra profile fields to request: subscriptions, predictive_analytics "
            "(the latter lowers the profiles rate limit to 10/s, 150/m).",
        ),
        th.Property(
            "ignore_forbidden_streams",
            th.BooleanType,
            default=False,
            title="Skip streams the key may not read",
            description="On a 403 (missing scope), log one warning and skip the stream "
            "instead of failing the run.",
        ),
        # ---- Reporting API and metric aggregates (tap_klaviyo/streams/reporting.py) ----
        th.Property(
            "reporting_start_date",
            th.DateTimeType,
            title="Reports start date",
            description="First day the report streams and metric_aggregates read on their "
            "first run: the date as written, a day in the account's timezone. Default: "
            f"{reporting.DEFAULT_HISTORY_DAYS} days before the first run. `start_date` does "
            "not apply to them: every day of a values report costs a request of a "
            "225-a-day quota.",
        ),
        th.Property(
            "reporting_lookback_days",
            th.IntegerType,
            default=reporting.DEFAULT_LOOKBACK_DAYS,
            title="Reports look-back (days)",
            description="Each run re-reads this many complete days before the bookmark, "
            "because attribution (conversions, revenue) keeps changing for days; the records "
            "keep their keys, so targets update them.",
        ),
        th.Property(
            "reporting_daily_request_budget",
            th.IntegerType,
            default=reporting.DEFAULT_DAILY_REQUEST_BUDGET,
            title="Report requests per endpoint and day",
            description="Most requests the tap sends to each report endpoint in any 24 hours "
            "(Klaviyo allows 225 per account, shared with dashboards and other tools), "
            "counted across runs in the state. When it is spent the report stream stops "
            "cleanly and the next run continues.",
        ),
        th.Property(
            "reporting_values_period",
            th.StringType(allowed_values=list(reporting.PERIODS)),
            default=reporting.DEFAULT_VALUES_PERIOD,
            title="Values report period",
            description="What one row of a *_values_reports stream covers: a day (a "
            "request per day), a Monday-to-Sunday week or a calendar month (the current "
            "one re-read until it is over).",
        ),
        *(
            th.Property(
                reporting.statistics_setting(family),
                th.ArrayType(th.StringType(allowed_values=reporting.statistics_enum(family))),
                default=list(reporting.DEFAULT_STATISTICS[family]),
                title=f"{family.capitalize()} report statistics",
                description=f"Statistics the {family} report streams ask for, each a "
                "column (rates are fractions 0-1).",
            )
            for family in reporting.FAMILY_OPERATIONS
        ),
        th.Property(
            "conversion_metric_id",
            th.StringType,
            title="Conversion metric",
            description="Metric id whose events count as conversions in campaign and flow "
            "reports. Default: the account's 'Placed Order' metric, looked up by name.",
        ),
        th.Property(
            "reporting_timezone",
            th.StringType,
            title="Reports timezone",
            description="IANA timezone report days are aligned to. Default: the account's "
            "timezone from GET /api/accounts (scope accounts:read). Klaviyo reads report "
            "timeframes in the account's timezone, so only set this without that scope.",
        ),
        th.Property(
            "metric_aggregates",
            th.ArrayType(
                th.ObjectType(
                    th.Property("name", th.StringType, required=True),
                    th.Property("metric_id", th.StringType),
                    th.Property("metric_name", th.StringType),
                    th.Property(
                        "measurements",
                        th.ArrayType(
                            th.StringType(
                                allowed_values=reporting.metric_aggregate_enums()["measurements"]
                            )
                        ),
                    ),
                    th.Property(
                        "interval",
                        th.StringType(
                            allowed_values=reporting.metric_aggregate_enums()["interval"]
                        ),
                    ),
                    th.Property(
                        "by",
                        th.ArrayType(
                            th.StringType(allowed_values=reporting.metric_aggregate_enums()["by"])
                        ),
                    ),
                    th.Property("filter", th.ArrayType(th.StringType)),
                    th.Property("timezone", th.StringType),
                )
            ),
            title="Metric aggregate queries",
            description="Queries for the metric_aggregates stream: `name` (keys its records "
            "and bookmark), `metric_id` or `metric_name`, `measurements` (count, sum_value, "
            "unique; default count), `interval` (hour, day, week, month; default day), `by` "
            "(group-by dimensions), `filter` (extra filter strings; the tap sets the datetime "
            "range) and `timezone` (default: the account's).",
        ),
    ).to_dict()

    def __init__(self, *args: Any, validate_config: bool = True, **kwargs: Any) -> None:
        self.run_started_at = datetime.now(timezone.utc).replace(microsecond=0)
        try:
            super().__init__(*args, validate_config=validate_config, **kwargs)
        except ConfigValidationError as exc:
            raise SettingsError(f"Invalid settings: {'; '.join(exc.errors)}") from None
        if validate_config:
            known = set(self.config_jsonschema["properties"])
            check_settings(dict(self.config), known)

    def discover_streams(self) -> list:
        return [stream_type(tap=self) for stream_type in STREAM_TYPES]

    def sync_all(self) -> None:
        """Sync the selected streams, several at once.

        Klaviyo's quotas are per endpoint, so streams of different endpoints do
        not slow each other down. Each top-level stream (with its children) runs
        on its own thread; the writer keeps every message whole, a stream's
        SCHEMA precedes its records, and each STATE snapshots bookmarks that
        only cover records already written.
        """
        # Schemas, catalog and modules live for the whole run: kept out of the
        # collector's reach, they are not re-scanned each time decoded pages
        # trigger a collection (a third of the CPU per record otherwise).
        gc.collect()
        gc.freeze()
        processes = self.config.get("render_processes")
        processes = default_processes() if processes is None else int(processes)
        rendered = [
            s
            for s in self.streams.values()
            if s.selected and getattr(s, "renders_in_processes", False)
        ]
        if processes and rendered and not can_fork():
            self.logger.warning("render_processes needs fork(); pages render in this process")
            processes = 0
        # Forked now, while this is the only thread.
        self.render_pool = RenderPool(self.streams, processes) if processes and rendered else None
        try:
            self._sync_streams()
        finally:
            if self.render_pool is not None:
                self.render_pool.close()
                self.render_pool = None

    def _sync_streams(self) -> None:
        workers = int(self.config.get("parallel_streams") or 1)
        if workers <= 1:
            super().sync_all()
            return
        self._reset_state_progress_markers()
        self._set_compatible_replication_methods()
        if self.state:
            self._state_writer.write_state(self.state)
        roots = [
            stream
            for stream in self.streams.values()
            if (stream.selected or stream.has_selected_descendents)
            and not stream.parent_stream_type
        ]
        roots.sort(key=start_order)

        def sync_one(stream: Any) -> None:
            stream.sync()
            stream.finalize_state_progress_markers()

        errors: list[BaseException] = []
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stream") as pool:
            futures = [pool.submit(sync_one, stream) for stream in roots]
            for future in futures:
                # A failing stream does not stop the others: their data and
                # state are still good. The run fails once all are done.
                error = future.exception()
                if error is not None:
                    errors.append(error)
        for stream in self.streams.values():
            stream.log_sync_costs()
        if errors:
            raise errors[0]

    @classmethod
    def cb_config(cls, ctx: Any, param: Any, value: tuple[str, ...]) -> Any:
        try:
            return super().cb_config(ctx, param, value)
        except FileNotFoundError as exc:
            cls.logger.error("%s", exc)
            ctx.exit(2)
        except ValueError as exc:  # JSON decode errors are ValueErrors
            names = ", ".join(v for v in value if v != "ENV")
            cls.logger.error("The config file %s is not valid JSON: %s.", names, exc)
            ctx.exit(2)

    @classmethod
    def invoke(cls, *args: Any, **kwargs: Any) -> None:
        try:
            for name, check in (("state", check_state), ("catalog", check_catalog)):
                if kwargs.get(name) is not None:
                    kwargs[name] = checked_file(kwargs[name], name, check)
            super().invoke(*args, **kwargs)
        except SettingsError as exc:
            cls.logger.error("%s", exc)
            sys.exit(2)
        except KlaviyoError as exc:
            cls.logger.error("%s", exc)
            sys.exit(1)


if __name__ == "__main__":
    TapKlaviyo.cli()
