"""What a stream mixes in besides its reading and writing: a schema that follows the
records Klaviyo sends, a full read every few days that lets the target drop what
Klaviyo no longer has, and the contexts a parent's records give its children."""

from __future__ import annotations

import copy
import math
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, ClassVar

from singer_sdk import metrics
from singer_sdk.helpers.types import Context
from singer_sdk.singerlib import SchemaMessage

from tap_klaviyo.dates import CLOCK, parse_datetime
from tap_klaviyo.progress import CountingCounter, Reading, StreamProgress, time_fraction
from tap_klaviyo.read.bounds import full_refresh_due
from tap_klaviyo.read.estimate import estimate
from tap_klaviyo.stopping import RunStopped
from tap_klaviyo.transport.jsonapi import flatten_resource, next_link, page_parts, related_ids
from tap_klaviyo.transport.ratelimit import quota_of
from tap_klaviyo.write.derive import Deriver
from tap_klaviyo.write.paths import Output
from tap_klaviyo.write.widen import EvolvingSchema, RecordCheck

ACCOUNT_COLUMN = "account_id"


class CarriesAccount:
    """With the `account_id` setting, every record names its account in one more column,
    so the tables of several accounts (each loaded by its own job) can be unioned."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.account_id: str | None = self.run_tap.settings.account_id
        if self.account_id is not None:
            schema = copy.deepcopy(self.schema)
            schema.setdefault("properties", {})[ACCOUNT_COLUMN] = {"type": ["string"]}
            # An instance attribute shadows the class's schema descriptor for this stream only.
            self.__dict__["schema"] = schema

    def with_account(self, row: dict[str, Any]) -> dict[str, Any]:
        if self.account_id is not None:
            row[ACCOUNT_COLUMN] = self.account_id
        return row


# A read going at this share of its quota's pace or more is held back by the quota.
QUOTA_BOUND = 0.5
# The estimate's sample requests wait this long: a read that ends sooner shows no
# progress line, and its first seconds (when its time slices fan out) stay its own.
SAMPLE_AFTER_SECONDS = 10.0


class Sampling(threading.Thread):
    """The thread counting a stream's range, told when the stream is over."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.over = threading.Event()


class Watched:
    """A stream whose progress the run reports while it runs and sums up at its end
    (progress.py): records through the SDK's record counter, requests and 429s from its
    HTTP client, how far through its range or its parents it is."""

    @cached_property
    def progress(self) -> StreamProgress:
        return StreamProgress()

    def sync(self, context: Context | None = None) -> None:
        self.progress.begin()
        sampling = None
        if context is None and self.ranged:
            # Taken now: the state the bounds are read from moves as records are written.
            self.progress.range = self.run_bounds(None)
            if self.reader.slices:
                sampling = self.sample_range(*self.progress.range)
        try:
            super().sync(context)
        finally:
            if sampling is not None:
                # Its requests are the stream's: none may follow the stream's end.
                sampling.over.set()
                sampling.join()
        if context is not None:
            self.progress.contexts_done += 1

    @property
    def ranged(self) -> bool:
        """Whether the stream reads one range of its replication key, in key order."""
        return bool(
            self.replication_key
            and self.is_sorted
            and not self.partitions
            and self.parent_stream_type is None
            and hasattr(self, "reader")
        )

    def sample_range(self, start: datetime | None, end: datetime) -> Sampling:
        """Count the run's range roughly (read/estimate.py) beside the read, on its quota."""
        key = self.reader.query.column

        def first_page(low: datetime | None) -> tuple[list[datetime], bool]:
            if sampling.over.is_set():
                raise RunStopped("the stream ended")
            response = self.send(self.reader.first_request(None, low, end))
            keys = sorted(parse_datetime(r[key]) for r in self.page_records(response, low, end))
            return keys, next_link(response) is not None

        def run() -> None:
            if sampling.over.wait(SAMPLE_AFTER_SECONDS):
                return  # over before its first progress line: no estimate needed
            try:
                self.progress.estimate = estimate(first_page, start, end)
            except (Exception, RunStopped) as exc:  # the read itself says what went wrong
                self.logger.debug("Stream '%s': no record estimate: %s", self.name, exc)

        sampling = Sampling(target=run, name=f"{self.name}-estimate", daemon=True)
        sampling.start()
        return sampling

    def get_record_counter(self, **kwargs: Any) -> metrics.Counter:
        counter = super().get_record_counter(**kwargs)
        return CountingCounter(self.progress, counter.metric, counter.tags, counter.log_interval)

    def progress_reading(self) -> Reading:
        progress = self.progress
        traffic = self.__dict__.get("http")
        requests = traffic.traffic.requests if traffic else 0
        fraction, of_what, remaining = None, "", None
        parent_type = self.parent_stream_type
        if parent_type is not None:
            parent = self.run_tap.streams[parent_type.name].progress
            if parent.fetched:
                # A parent still reading pages has more records than fetched so far.
                fraction = min(1.0, progress.contexts_done / parent.fetched)
                of_what = f"{'' if parent.fetched_all else 'at least '}{parent.fetched:,} "
                of_what += parent_type.name
        elif progress.range is not None:
            start, end = progress.range
            fraction = time_fraction(start, end, progress.first_key, progress.last_key)
            low = start.date() if start else progress.first_key and progress.first_key[:10]
            of_what = f"{low}..{end.date()}"
            if progress.estimate is not None:
                reached = parse_datetime(progress.last_key) if progress.last_key else start
                remaining = progress.estimate.after(reached) if reached else None
                if remaining is not None:
                    fraction = progress.records / max(1.0, progress.records + remaining)
        return Reading(
            stream=self.name,
            records=progress.records,
            seconds=progress.seconds(),
            requests=requests,
            throttled=traffic.traffic.throttled if traffic else 0,
            fraction=fraction,
            of_what=of_what,
            bookmark=self.bookmark_text(),
            rate=progress.recent_rate(),
            remaining=remaining,
            quota_left=self.time_left_at_quota(
                remaining, traffic.traffic.requests if traffic else 0
            ),
        )

    def time_left_at_quota(self, remaining: float | None, requests_sent: int) -> float | None:
        """For a read the quota holds back (its pace near the quota's): the least time the
        endpoint's windows allow for the requests its remaining records need. A recent
        pace says less of such a read: within each minute it bursts, then waits."""
        endpoint = getattr(self, "endpoint", None)
        if remaining is None or endpoint is None or not requests_sent:
            return None
        _, per_minute = quota_of(self.settings, self.operation, self.static_params())
        per_request = self.progress.records / requests_sent
        if not per_minute or not per_request:
            return None
        if self.progress.recent_rate() < QUOTA_BOUND * per_request * per_minute / 60:
            return None
        return endpoint.limiter.seconds_for(math.ceil(remaining / per_request))

    def bookmark_text(self) -> str | None:
        if not self.replication_key:
            return None
        state = self.stream_state
        if state.get("partitions"):
            return f"one per {', '.join(self.state_partitioning_keys or ['partition'])} " + (
                f"({len(state['partitions'])})"
            )
        return state.get("replication_key_value")


class ShapedRows:
    """Records made from a page's resources as the stream declares them: flattened,
    with derived columns, or rows exploded from a list inside each resource, or rows
    made from the resources ``include`` added (write/derive.py)."""

    def records_from(self, content: bytes, url: str) -> Iterator[dict[str, Any]]:
        resources, included = page_parts(content, url, self.name)
        id_field, derive, explode = self.id_field, self.deriver, self.explode
        if self.from_included is not None:
            flat = [flatten_resource(resource, id_field) for resource in resources]
            yield from self.from_included.rows(flat, included)
            return
        keep_related = bool(self.includes and self.child_key)
        for resource in resources:
            # A resource whose id is not a string is no parent (related_ids keeps string
            # ids only); its record fails the schema's check with a line that says so.
            if keep_related and isinstance(resource.id, str):
                self.related[resource.id] = related_ids(resource, self.includes)
            record = flatten_resource(resource, id_field)
            if derive:
                derive(record)
            if explode:
                yield from explode.rows(record)
            else:
                yield record

    def lookup_maps(self) -> dict[str, dict]:
        """The maps derived columns look values up in (``Derived.via``)."""
        return {}

    @cached_property
    def deriver(self) -> Deriver | None:
        return Deriver(self.derived_columns, self.lookup_maps()) if self.derived_columns else None


class SchemaFollowsRecords:
    """A stream whose schema widens to what Klaviyo really sends (write/widen.py): the
    record check widens it, the stream installs it and announces it in a SCHEMA."""

    @cached_property
    def evolving(self) -> EvolvingSchema:
        return EvolvingSchema(
            self.name, self.schema, install=self._install, send=self._send, logger=self.logger
        )

    @cached_property
    def record_check(self) -> RecordCheck:
        key = self.replication_key if self.bookmarks_per_record else None
        return RecordCheck(
            self.name,
            self.schema,
            self.id_field,
            key,
            self.evolving.widened,
            primary_keys=tuple(self.primary_keys or ()),
        )

    def announce_schema(self) -> None:
        self.evolving.announce_pending()

    def _install(self, schema: dict[str, Any]) -> None:
        # An instance attribute shadows the class's schema descriptor for this stream only.
        self.__dict__["schema"] = schema
        if self.record_check.schema is not schema:
            self.record_check.adopt(schema)
        if self.output is not Output.SDK:
            self.stream_maps[0].transformed_schema = schema

    def _send(self, schema: dict[str, Any]) -> None:
        # With stream maps or flattening the SDK shapes records and schemas itself.
        if self.output is not Output.SDK:
            key = [self.replication_key] if self.replication_key else None
            message = SchemaMessage(self.name, schema, list(self.primary_keys), key)
            self.run_tap.write_message(message)


class FullRefresh:
    """A stream read in full every ``full_refresh_setting`` days: its records then carry a
    table version, and ACTIVATE_VERSION follows once every parent was read in full, so
    the target drops (or marks deleted) the records that were not sent. Other runs read
    incrementally. A run cut short sends none and drops nothing."""

    # The setting saying every how many days; None: never.
    full_refresh_setting: ClassVar[str | None] = None
    refreshing = False

    def plan_full_refresh(self) -> None:
        setting = self.full_refresh_setting
        saved = self.tap_state.get("bookmarks", {}).get(self.name, {})
        started = self.run_tap.run_started_at
        every = float(getattr(self.settings, setting) or 0) if setting else 0
        self.refreshing = full_refresh_due(saved.get("full_refreshed_at"), every, started)
        if self.refreshing:
            # Milliseconds now, not the run's start (whole seconds): a later run's version
            # is always the greater, which is how targets tell which rows are current.
            self.stamp_records(int(CLOCK.now().timestamp() * 1000))
            self.logger.info(
                "Stream '%s' is read in full this run (%s=%s); the target is then told "
                "which records Klaviyo no longer has",
                self.name,
                setting,
                every,
            )

    def settle_full_refresh(self) -> None:
        """At the end of a stream that read every parent: note when, keep ACTIVATE_VERSION
        coming; when the key could not read it at all, drop nothing."""
        if not self.refreshing:
            return
        reader = self.__dict__.get("reader")
        if reader is not None and reader.forbidden:
            self.__dict__.pop("_pending_version", None)
        else:
            self.stream_state["full_refreshed_at"] = self.run_tap.run_started_at.isoformat()


class ParentOfChildren:
    """A stream whose records give its children their contexts (``child_key``, and the
    ids of included to-many relationships for pair tables), and whose pages start the
    children's reads before the children's turn."""

    @cached_property
    def includes(self) -> tuple[str, ...]:
        """Relationships asked for with ``include``: the stream's own, and those that a
        selected pair table (pairs.RelatedIdsStream) reads off this stream's records."""
        wanted = [
            child.relationship
            for child in self.child_streams
            if getattr(child, "relationship", None) and child.selected
        ]
        return tuple(dict.fromkeys((*self.include, *wanted)))

    @cached_property
    def related(self) -> dict[str, dict[str, list[str]]]:
        """To-many relationship ids of included relationships, held for the children."""
        return {}

    def get_child_context(self, record: dict, context: Context | None) -> dict[str, Any]:
        if not self.child_streams:
            return {}
        child = self.child_context_for(record, context)
        self.related.pop(record[self.id_field], None)
        return child

    def prefetch_children(self, page: list[dict[str, Any]], context: Context | None) -> None:
        children = [
            child
            for child in self.child_streams
            if hasattr(child, "prefetch") and (child.selected or child.has_selected_descendents)
        ]
        if not children:
            return
        for record in page:
            child_context = self.child_context_for(record, context)
            for child in children:
                child.prefetch(child_context)

    def child_context_for(self, record: dict, context: Context | None) -> dict[str, Any]:
        child = {k: v for k, v in (context or {}).items() if k.endswith("_id")}
        child[self.child_key] = record[self.id_field]
        child.update(self.related.get(record[self.id_field], {}))
        return child


class DailySnapshot:
    """A child stream that takes a snapshot of each parent (a list's size, say): a row per
    parent and day, keyed by the parent's id and the day, stamped with the moment; a
    parent whose last snapshot is younger than ``snapshot_setting`` hours is not asked."""

    snapshot_setting: ClassVar[str]
    replication_key = "observed_at"
    # A list's size changes without its `updated` moving: every parent is visited.
    ignore_parent_replication_key = True
    # The endpoint returns one resource: nothing to filter or sort.
    server_filters = False

    @classmethod
    def extra_columns(cls) -> dict[str, dict[str, Any]]:
        """Columns besides the resource's (for scripts/generate_schemas.py)."""
        return {
            "date": {"type": ["string"], "format": "date"},
            "observed_at": {"type": ["string"], "format": "date-time"},
        }

    def reads(self, context: Context | None) -> bool:
        hours = float(getattr(self.settings, self.snapshot_setting) or 0)
        last = self.get_context_state(context).get("replication_key_value")
        started = self.run_tap.run_started_at
        return not last or started - parse_datetime(last) >= timedelta(hours=hours)

    def get_records(self, context: Context | None) -> Any:
        if self.reads(context):
            yield from super().get_records(context)

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        started = self.run_tap.run_started_at
        row["date"] = started.date().isoformat()
        row["observed_at"] = started.isoformat()
        return super().post_process(row, context)
