"""The base stream: auth, headers, paginator, flattening, errors, backoff and rate limits."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, ClassVar
from urllib.parse import urlsplit

import msgspec
import requests
from singer_sdk import RESTStream, Stream
from singer_sdk.helpers import types
from singer_sdk.helpers.types import Context
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.pagination import BaseHATEOASPaginator
from singer_sdk.schema.source import SchemaDirectory, StreamSchema
from singer_sdk.streams.rest import HTTPRequest, PageContext

from tap_klaviyo import schemas, spec
from tap_klaviyo.dates import is_canonical, parse_datetime, utc_iso
from tap_klaviyo.errors import KlaviyoError
from tap_klaviyo.read.bounds import run_end, run_start, saved_bookmark
from tap_klaviyo.read.query import Query
from tap_klaviyo.read.reader import Reader
from tap_klaviyo.settings import Settings
from tap_klaviyo.transport.http import Endpoint, HttpClient
from tap_klaviyo.transport.jsonapi import (
    decode_document,
    flatten_resource,
    json_decoder,
    next_link,
    related_ids,
    snake,
)
from tap_klaviyo.transport.ratelimit import limiter_for
from tap_klaviyo.write.lines import LeanWriter, record_lines
from tap_klaviyo.write.render import RenderedPage, RenderPool
from tap_klaviyo.write.typecheck import Checker, compile_checker

Page = list[dict[str, Any]]


class KlaviyoPaginator(BaseHATEOASPaginator):
    """Follows ``links.next`` exactly as Klaviyo gives it; the cursor is opaque."""

    def get_next_url(self, response: requests.Response) -> str | None:
        return next_link(response)


class KlaviyoStream(RESTStream):
    """A Klaviyo collection endpoint read as one Singer stream.

    Subclasses declare name, path, keys, replication key and parent. The spec
    extract supplies the rest: which filter operators and sort keys the endpoint
    takes, its page size, its rate limit and the scopes it needs.
    """

    schema = StreamSchema(SchemaDirectory(schemas))
    # A resumable STATE every this many records (the SDK's default is 10,000).
    STATE_MSG_FREQUENCY = 1000
    primary_keys: ClassVar[tuple[str, ...]] = ("id",)
    # The column that holds the resource id, for streams keyed by the parent too.
    id_field: ClassVar[str] = "id"
    # Context entries turned into `equals(<field>,<value>)` filter terms.
    context_filters: ClassVar[dict[str, str]] = {}
    include: ClassVar[tuple[str, ...]] = ()
    # Partitions (each with its own bookmark) the stream is read in.
    static_partitions: ClassVar[list[dict[str, Any]] | None] = None
    rest_method: ClassVar[str] = "GET"
    # The context key children receive this stream's record id under, e.g. list_id.
    child_key: ClassVar[str | None] = None
    # Read the time range as windows on parallel workers (high-volume streams).
    parallel_windows: ClassVar[bool] = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # To-many relationship ids of included relationships, held for the children.
        self._related: dict[str, dict[str, list[str]]] = {}
        self._warned_unknown = False
        self._pending_version: int | None = None

    @property
    def settings(self) -> Settings:
        return self._tap.settings

    @cached_property
    def http(self) -> HttpClient:
        return HttpClient(self.name, self.settings, self.logger)

    @cached_property
    def endpoint(self) -> Endpoint:
        op = self.operation
        return Endpoint(limiter_for(self.settings, op, self.static_params()), op.scopes)

    @property
    def url_base(self) -> str:
        return self.settings.base_url

    @classmethod
    def spec_operation(cls) -> spec.Operation:
        return spec.operation_for(cls.rest_method, cls.path)

    @cached_property
    def operation(self) -> spec.Operation:
        return self.spec_operation()

    @property
    def http_method(self) -> str:
        return self.rest_method

    @property
    def http_headers(self) -> dict[str, str]:
        return self.http.headers(body=self.rest_method == "POST")

    @property
    def authenticator(self) -> Any:
        return self.http.authenticate

    @property
    def partitions(self) -> list[dict[str, Any]] | None:
        return self.static_partitions

    @property
    def is_sorted(self) -> bool:
        return self.query.is_sorted

    # ---- reading: the query and the pages of each context (read/) -------------

    @cached_property
    def query(self) -> Query:
        return Query(
            self.operation,
            self.replication_key,
            self.context_filters,
            self.static_params(),
            self.includes,
        )

    @cached_property
    def reader(self) -> Reader:
        return Reader(
            stream=self.name,
            logger=self.logger,
            query=self.query,
            workers=self.max_workers,
            ignore_forbidden=self.settings.ignore_forbidden_streams,
            is_child=self.parent_stream_type is not None,
            parallel_slices=self.parallel_windows,
            send=self.send,
            request_for=self.request_for,
            next_token=self.get_new_paginator().get_next,
            decode=self.page_records,
        )

    def get_new_paginator(self) -> KlaviyoPaginator:
        return KlaviyoPaginator()

    def get_http_request(self, *, page: PageContext) -> HTTPRequest:
        if page.next_page_token:
            # The next link already carries filter, sort and size with the cursor.
            return HTTPRequest(
                url=page.next_page_token.geturl(),
                method=self.http_method,
                headers=self.http_headers,
            )
        return super().get_http_request(page=page)

    def get_url_params(self, context: Context | None, next_page_token: Any) -> dict[str, Any]:
        return self.query.params(context, *self.run_bounds(context))

    def request_for(
        self, context: Context | None, token: Any, params: dict[str, Any] | None
    ) -> requests.PreparedRequest:
        request = self.get_http_request(
            page=PageContext(stream_context=context, next_page_token=token)
        )
        if params is not None:
            request.params = params
        return self.prepare(request)

    def static_params(self) -> dict[str, str]:
        """Query parameters every request of the stream carries, e.g. additional-fields."""
        return {}

    @cached_property
    def includes(self) -> tuple[str, ...]:
        """Relationships asked for with ``include``: the stream's own, and those that a
        selected pair table (a RelatedIdsStream child) reads off this stream's records."""
        wanted = [
            child.relationship
            for child in self.child_streams
            if isinstance(child, RelatedIdsStream) and child.selected
        ]
        return tuple(dict.fromkeys((*self.include, *wanted)))

    def run_bounds(
        self, context: Context | None, resume: bool = False
    ) -> tuple[datetime | None, datetime]:
        """Where this run reads a context from and to (see read/bounds.py); ``resume``
        after a stale cursor: from the last record this run emitted."""
        progress = None
        if resume and self.is_sorted:
            progress = self.get_context_state(context).get("replication_key_value")
        bookmark = (
            saved_bookmark(self.tap_state, self.name, self.state_partitioning_keys, context)
            if self.replication_key
            else None
        )
        start = run_start(
            bookmark=bookmark, lookback=self.lookback, floor=self.settings.start, progress=progress
        )
        return start, run_end(self.settings.end, self._tap.run_started_at)

    @property
    def lookback(self) -> timedelta:
        """How far before the bookmark each run re-reads, for data that arrives late."""
        return timedelta(0)

    @property
    def check_sorted(self) -> bool:
        # A look-back re-reads records older than the bookmark on purpose.
        return not self.lookback

    @property
    def max_workers(self) -> int:
        return self.settings.workers

    def prepare(self, request: HTTPRequest) -> requests.PreparedRequest:
        return self.http.prepare(request)

    def page_records(
        self, response: requests.Response, start: datetime | None, end: datetime | None
    ) -> Page:
        """One response's records, cut to [start, end) where the filter could not be."""
        return self.body_records(response.content, response.url, start, end)

    def body_records(
        self, content: bytes, url: str, start: datetime | None, end: datetime | None
    ) -> Page:
        return self.query.keep_within(list(self.records_from(content, url)), start, end)

    def request_records(self, context: Context | None) -> Iterable[dict]:
        for page in self.request_record_pages(context):
            yield from page

    def request_record_pages(self, context: Context | None) -> Iterator[Page]:
        """Pages of records for one context; each page starts its children's reads."""
        for page in self.reader.pages(context, self.run_bounds, self._render_for(context)):
            self.prefetch_children(page, context)
            yield page

    def _render_for(self, context: Context | None) -> tuple[Any, int] | None:
        pool = self._render_pool
        if pool is None:
            return None
        version = self._stream_version
        partition = dict(context) if context else None

        def render(response: requests.Response, low: datetime, high: datetime) -> Any:
            return pool.submit(
                self.name, response.content, response.url, low, high, version, partition
            )

        return render, 2 * pool.processes

    def prefetch(self, context: Context) -> None:
        """Start fetching this context's pages now; they are read in their turn."""
        self.reader.prefetch(context, self.run_bounds)

    def prefetch_children(self, page: Page, context: Context | None) -> None:
        children = [
            child
            for child in self.child_streams
            if isinstance(child, KlaviyoStream)
            and (child.selected or child.has_selected_descendents)
        ]
        if not children:
            return
        for record in page:
            child_context = self.child_context_for(record, context)
            for child in children:
                child.prefetch(child_context)

    def _write_activate_version_message(self, full_table_version: int) -> None:
        # The SDK announces the new version before the first record, and targets
        # drop older rows at once: a run failing mid-stream would leave the table
        # empty. Held back here, it goes out once every record has been written.
        self._pending_version = full_table_version

    def finalize_state_progress_markers(self, state: dict | None = None) -> None:
        reader = self.__dict__.pop("reader", None)
        if reader is not None:
            reader.close()
        if self._pending_version is not None:
            version, self._pending_version = self._pending_version, None
            super()._write_activate_version_message(version)
        super().finalize_state_progress_markers(state)

    def send(self, prepared: requests.PreparedRequest) -> requests.Response:
        return self.http.send(prepared, self.endpoint)

    def parse_response(self, response: requests.Response) -> Iterator[dict[str, Any]]:
        return self.records_from(response.content, response.url)

    # ---- records --------------------------------------------------------

    def records_from(self, content: bytes, url: str) -> Iterator[dict[str, Any]]:
        where = urlsplit(url).path
        try:
            data = decode_document(content).data
        except ValueError as exc:
            raise KlaviyoError(
                f"Stream '{self.name}': response from {where} is not a JSON:API document ({exc})"
            ) from None
        if data is None:
            raise KlaviyoError(f"Stream '{self.name}': response from {where} has no `data`")
        keep_related = bool(self.includes and self.child_key)
        id_field = self.id_field
        for resource in data if isinstance(data, list) else [data]:
            if keep_related:
                self._related[resource.id] = related_ids(resource, self.includes)
            yield flatten_resource(resource, id_field)

    # ---- output ---------------------------------------------------------

    @cached_property
    def _lean_output(self) -> bool:
        """Records can skip the SDK's generic conform-and-map path when no stream map,
        flattening or property deselection is in play: they are already plain JSON."""
        writer = getattr(self._tap, "message_writer", None)
        if not isinstance(writer, LeanWriter) or len(self.stream_maps) != 1:
            return False
        stream_map = self.stream_maps[0]
        if type(stream_map) is not SameRecordTransform or stream_map.flattening_enabled:
            return False
        return all(self.mask.values())

    @cached_property
    def _known_properties(self) -> frozenset[str]:
        return frozenset(self.schema.get("properties", {}))

    def _write_state_message(self) -> None:
        write_state_snapshot(self)

    def _write_record_message(self, record: dict) -> None:
        if not self._lean_output:
            super()._write_record_message(record)
            return
        self._keep_known(record)
        self._tap.message_writer.write_records(self.name, [record], self._stream_version)
        self.state_manager.is_flushed = False

    def _keep_known(self, record: dict) -> None:
        """Drop properties the schema does not declare (warning once per stream)."""
        if record.keys() <= self._known_properties:
            return
        unknown = record.keys() - self._known_properties
        if not self._warned_unknown:
            self.logger.warning(
                "Stream '%s': properties not in the schema are dropped: %s",
                self.name,
                ", ".join(sorted(unknown)),
            )
            self._warned_unknown = True
        for key in unknown:
            del record[key]

    # ---- a page at a time ------------------------------------------------

    @cached_property
    def _writes_pages(self) -> bool:
        """Whether records can go out a page at a time: a lean, selected, top-level
        stream with no children, state partitioning keys or dry-run record limit,
        whose records come from ``request_records`` (report streams assemble theirs
        in ``get_records``). The SDK's loop does its bookkeeping per record; here it
        is once per page (partitions, such as events' metrics, one after another)."""
        return (
            type(self).get_records is RESTStream.get_records
            and type(self).request_records is KlaviyoStream.request_records
            and self._lean_output
            and self.selected
            and not self.child_streams
            and self.parent_stream_type is None
            and not self.state_partitioning_keys
            and self.ABORT_AT_RECORD_COUNT is None
        )

    def _sync_records(
        self, context: Context | None = None, *, write_messages: bool = True
    ) -> Iterator[dict]:
        if not (write_messages and context is None and self._writes_pages):
            yield from super()._sync_records(context, write_messages=write_messages)
            return
        record_counter = self.get_record_counter()
        timer = self.get_sync_timer()
        written = 0
        writer = self._tap.message_writer
        with record_counter, timer:
            # As the SDK's loop: each partition (events of one metric) in turn, with its
            # own bookmark, finalised once the partition is read.
            for partition in self.partitions or [None]:
                record_counter.with_context(partition or {})
                timer.with_context(partition or {})
                self._write_starting_replication_value(partition)
                for page in self.request_record_pages(partition):
                    rendered = (
                        page
                        if isinstance(page, RenderedPage)
                        else self._rendered(
                            self._finished_rows(page, partition), self._stream_version
                        )
                    )
                    if not rendered.count:
                        continue
                    writer.write_lines(rendered.lines)
                    self.state_manager.is_flushed = False
                    # The state only ever covers records already written.
                    for row in rendered.marks:
                        self._increment_stream_state(row, context=partition)
                    before, written = written, written + rendered.count
                    if written // self.STATE_MSG_FREQUENCY != before // self.STATE_MSG_FREQUENCY:
                        self._write_state_message()
                    record_counter.increment(rendered.count)
                if partition is not None:
                    self._finalize_state(self.get_context_state(partition))
            self._finalize_state(self.stream_state)
        self._write_state_message()
        yield from ()

    def _finished_rows(self, page: Page, partition: Context | None) -> Page:
        """A page's records checked, canonicalised, given their partition's keys (as the
        SDK does) and cut to the schema's properties."""
        processed = (self.post_process(record, partition) for record in page)
        rows = [row for row in processed if row is not None]
        for row in rows:
            for key, value in (partition or {}).items():
                row.setdefault(key, value)
            self._keep_known(row)
        return rows

    @property
    def _incremental(self) -> bool:
        return bool(self.replication_key) and self.replication_method == "INCREMENTAL"

    @property
    def _render_pool(self) -> RenderPool | None:
        """The tap's worker processes, for a stream that writes a page at a time."""
        pool = getattr(self._tap, "render_pool", None)
        return pool if pool is not None and self.renders_in_processes else None

    @property
    def renders_in_processes(self) -> bool:
        """Whether worker processes may render this stream's pages: it writes a page
        at a time and reads windows in parallel (only those pages come in faster than
        one thread renders them)."""
        return self._writes_pages and self.reader.slices

    def render_page(
        self,
        content: bytes,
        url: str,
        start: datetime | None,
        end: datetime | None,
        version: int | None,
        partition: Context | None,
    ) -> RenderedPage:
        """A page's RECORD lines and bookmark rows, as ``_sync_records`` renders the
        pages it reads itself; runs in a worker process."""
        rows = self._finished_rows(self.body_records(content, url, start, end), partition)
        return self._rendered(rows, version)

    def _rendered(self, rows: Page, version: int | None) -> RenderedPage:
        """Finished rows as RECORD lines, and the replication keys that move the bookmark."""
        if not rows:
            return RenderedPage(b"", 0)
        key = self.replication_key
        marks = (
            [{key: row.get(key)} for row in self._bookmark_rows(rows)] if self._incremental else []
        )
        time_extracted = self._tap.message_writer.clock.now()
        return RenderedPage(
            record_lines(self.name, rows, version, time_extracted), len(rows), marks
        )

    def _bookmark_rows(self, rows: Page) -> Page:
        """The rows whose replication keys move the bookmark exactly as the SDK would
        record by record: the first and last of a page in order (the first still
        meets the SDK's sort check), else every row."""
        key = self.replication_key
        values = [row.get(key) for row in rows]
        try:
            ordered = all(a <= b for a, b in itertools.pairwise(values))
        except TypeError:  # a null or a value of another type: the SDK decides
            ordered = False
        if ordered and len(rows) > 1:
            return [rows[0], rows[-1]]
        return rows

    def child_context_for(self, record: dict, context: Context | None) -> dict[str, Any]:
        child = {k: v for k, v in (context or {}).items() if k.endswith("_id")}
        child[self.child_key] = record[self.id_field]
        child.update(self._related.get(record[self.id_field], {}))
        return child

    def _process_record(
        self,
        record: types.Record,
        child_context: Context | None = None,
        partition_context: Context | None = None,
    ) -> None:
        # The SDK's version walks child contexts and stream maps for every record;
        # a stream without children or partition keys has nothing to do here.
        if self.child_streams or partition_context:
            super()._process_record(record, child_context, partition_context)

    def get_child_context(self, record: dict, context: Context | None) -> dict[str, Any]:
        if not self.child_streams:
            return {}
        child = self.child_context_for(record, context)
        self._related.pop(record[self.id_field], None)
        return child

    @cached_property
    def _checker(self) -> Checker:
        return compile_checker(self.schema)

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        problem = self._checker(row, "")
        if problem:
            raise KlaviyoError(
                f"Stream '{self.name}': record {row.get(self.id_field)!r} does not fit the "
                f"schema: {problem}."
            )
        key = self.replication_key
        value = row.get(key) if key else None
        if isinstance(value, str) and not is_canonical(value):
            try:
                moment = parse_datetime(value)
            except ValueError:
                raise KlaviyoError(
                    f"Stream '{self.name}': record {row.get(self.id_field)!r} has `{key}` "
                    f"{value!r}, which is not a date-time."
                ) from None
            # One canonical form, because the SDK compares bookmarks as strings.
            row[key] = utc_iso(moment)
        return row


class KlaviyoChildStream(KlaviyoStream):
    """A stream read once per parent record; its state is kept per parent."""

    parent_key: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if hasattr(cls, "parent_key"):  # intermediate bases name no parent yet
            cls.state_partitioning_keys = [cls.parent_key]

    @classmethod
    def context_columns(cls) -> tuple[str, ...]:
        """Parent ids the records carry: this stream's parent key and the parent's own."""
        parent = cls.parent_stream_type
        inherited = parent.context_columns() if issubclass(parent, KlaviyoChildStream) else ()
        return (*inherited, cls.parent_key)

    @property
    def emit_activate_version_messages(self) -> bool:
        # A child is read for some parents only; a version switch would wipe the rest.
        return False

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        yield from super().get_records(context)
        if self.replication_key and self.selected:
            # The SDK settles a parent's bookmark only when the context is exactly the
            # state partition; a child's context also carries grandparent and related
            # ids, so the bookmark is settled here, once every record has been written.
            self.state_manager.finalize_state(self.get_context_state(context))

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        properties = self.schema.get("properties", {})
        for key, value in (context or {}).items():
            if key in properties:
                row.setdefault(key, value)
        return super().post_process(row, context)


class RelatedIdsStream(Stream):
    """Pairs of (parent id, related id) taken from the parent's included relationship,
    so the join table costs no request of its own.

    Tagging a list, segment, campaign or flow does not move its `updated`, so while
    a pair table is selected its parent is read in full (the SDK says so in its log):
    every run then emits every parent's current pairs.
    """

    schema = StreamSchema(SchemaDirectory(schemas))
    parent_key: ClassVar[str]
    relationship: ClassVar[str]
    ignore_parent_replication_key = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.primary_keys = (cls.parent_key, cls.related_key())
        cls.state_partitioning_keys = [cls.parent_key]

    @classmethod
    def related_key(cls) -> str:
        return f"{snake(cls.relationship).rstrip('s')}_id"

    @property
    def emit_activate_version_messages(self) -> bool:
        return False

    def get_records(self, context: Context | None) -> Iterator[dict[str, Any]]:
        context = context or {}
        for related in context.get(f"{snake(self.relationship)}_ids", []):
            yield {self.parent_key: context[self.parent_key], self.related_key(): related}

    def _write_state_message(self) -> None:
        write_state_snapshot(self)


def write_state_snapshot(stream: Stream) -> None:
    """Write a STATE message from a snapshot of the tap's state.

    Streams run on several threads and each changes its own part of the state while
    another writes a STATE. The SDK copies the state with ``copy.deepcopy``, which can
    meet a dict that another thread is growing. msgspec copies it in one call that
    keeps the GIL, so the snapshot is consistent.
    """
    if stream.state_manager.is_flushed:
        return
    _ = stream.stream_state  # the stream's entry exists before the snapshot
    snapshot = json_decoder.decode(msgspec.json.encode(stream.tap_state))
    stream._tap.state_writer.write_state(snapshot)
    stream.state_manager.is_flushed = True
