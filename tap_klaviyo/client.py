"""The vocabulary streams are declared in, and the seam between them and the engine.

A stream declares name, path, keys, replication key, parent and partitions. The
engine beside it does the work: ``transport/`` talks to Klaviyo, ``read/`` decides
which requests go out and in what order, ``write/`` turns pages into Singer lines
and state. The classes here build those collaborators once per stream and answer the
SDK's public hooks by delegating to them; every use of the SDK's private members is
in ``sdk.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, ClassVar

import requests
from singer_sdk import RESTStream
from singer_sdk.helpers.types import Context
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.schema.source import SchemaDirectory, StreamSchema
from singer_sdk.streams.rest import HTTPRequest, PageContext

from tap_klaviyo import schemas, spec
from tap_klaviyo.read.bounds import run_end, run_start, saved_bookmark
from tap_klaviyo.read.pages import KlaviyoPaginator
from tap_klaviyo.read.query import Query
from tap_klaviyo.read.reader import Reader
from tap_klaviyo.sdk import SdkStreamHooks
from tap_klaviyo.settings import Settings
from tap_klaviyo.traits import (
    CarriesAccount,
    FullRefresh,
    ParentOfChildren,
    SchemaFollowsRecords,
    ShapedRows,
    Watched,
)
from tap_klaviyo.transport.http import Endpoint, HttpClient
from tap_klaviyo.transport.ratelimit import limiter_for
from tap_klaviyo.write.derive import Derived, Explode, FromIncluded
from tap_klaviyo.write.lines import LeanWriter
from tap_klaviyo.write.paths import Output, OutputFacts, choose_output
from tap_klaviyo.write.render import Renders
from tap_klaviyo.write.renderer import PageRenderer

Page = list[dict[str, Any]]


class KlaviyoStream(
    Watched,
    ShapedRows,
    CarriesAccount,
    SchemaFollowsRecords,
    FullRefresh,
    ParentOfChildren,
    SdkStreamHooks,
    RESTStream,
):
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
    # Read the time range as slices on parallel workers (high-volume streams).
    parallel_windows: ClassVar[bool] = False
    # The paid Klaviyo add-on the endpoint needs: without it, a 403 skips the stream.
    paid_add_on: ClassVar[str | None] = None
    # A child some parents have none of (404 for them): skipped without a warning.
    missing_is_normal: ClassVar[bool] = False
    # Columns read off each record's own values (write/derive.py).
    derived_columns: ClassVar[tuple[Derived, ...]] = ()
    # Rows made from a list inside each resource instead of the resource itself.
    explode: ClassVar[Explode | None] = None
    # The setting giving the days each run re-reads before the bookmark (late data).
    lookback_setting: ClassVar[str | None] = None
    # Rows made from the resources `include` adds to each page instead.
    from_included: ClassVar[FromIncluded | None] = None
    # The field the endpoint filters and sorts on, when it is not the replication key's
    # column (e.g. a suppression's timestamp inside a profile).
    filter_key: ClassVar[str | None] = None
    # Whether the endpoint filters and sorts on the replication key.
    server_filters: ClassVar[bool] = True
    # Whether rows come in the key's order when the endpoint sorts: rows made from a list
    # inside each resource do not (a resource sorts by one of its values).
    rows_sorted: ClassVar[bool] = True
    # Where a read with no bookmark and no start_date starts: a bound some endpoints need
    # to leave out what has no value at all (profiles never suppressed).
    earliest: ClassVar[datetime | None] = None

    # ---- collaborators, built once ----------------------------------------------

    @classmethod
    def spec_operation(cls) -> spec.Operation:
        return spec.operation_for(cls.rest_method, cls.path)

    @cached_property
    def operation(self) -> spec.Operation:
        return self.spec_operation()

    @property
    def settings(self) -> Settings:
        return self.run_tap.settings

    @cached_property
    def http(self) -> HttpClient:
        return HttpClient(self.name, self.settings, self.logger, self.run_tap.stop)

    @cached_property
    def endpoint(self) -> Endpoint:
        op = self.operation
        return Endpoint(limiter_for(self.settings, op, self.static_params()), op.scopes)

    @cached_property
    def query(self) -> Query:
        return Query(
            self.operation,
            (self.filter_key or self.replication_key) if self.server_filters else None,
            self.context_filters,
            self.static_params(),
            self.includes,
            self.replication_key if self.filter_key else None,
        )

    @cached_property
    def reader(self) -> Reader:
        return Reader(
            stream=self.name,
            logger=self.logger,
            query=self.query,
            workers=self.settings.workers,
            ignore_forbidden=self.settings.ignore_forbidden_streams,
            is_child=self.parent_stream_type is not None,
            add_on=self.paid_add_on,
            missing_is_normal=self.missing_is_normal,
            parallel_slices=self.parallel_windows,
            send=self.send,
            request_for=self.request_for,
            next_token=self.get_new_paginator().get_next,
            decode=self.page_records,
            stop=self.run_tap.stop,
        )

    @cached_property
    def output(self) -> Output:  # type: ignore[override]
        return choose_output(output_facts(self))

    @cached_property
    def renderer(self) -> PageRenderer:
        incremental = bool(self.replication_key) and self.replication_method == "INCREMENTAL"
        return PageRenderer(
            self.name,
            decode=self.body_records,
            check=self.post_process,
            widenings=self.evolving.drain,
            bookmark_key=self.replication_key if incremental else None,
            clock=self.run_tap.message_writer.clock,
            cut_key=self.query.column,
        )

    # ---- the SDK's public hooks ---------------------------------------------------

    @property
    def url_base(self) -> str:
        return self.settings.base_url

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
        return self.query.is_sorted and self.rows_sorted

    @property
    def check_sorted(self) -> bool:
        # A look-back re-reads records older than the bookmark on purpose.
        return not self.lookback

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

    def parse_response(self, response: requests.Response) -> Iterator[dict[str, Any]]:
        return self.records_from(response.content, response.url)

    def request_records(self, context: Context | None) -> Iterable[dict]:
        for page in self.request_record_pages(context):
            yield from page

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        return self.record_check(self.with_account(row))

    def finalize_state_progress_markers(self, state: dict | None = None) -> None:
        self.settle_full_refresh()
        self.release_workers()
        self.send_pending_version()
        super().finalize_state_progress_markers(state)

    # ---- what the engine asks of the stream ------------------------------------------

    def release_workers(self) -> None:
        """End the threads fetching for this stream and its children (a finished or a
        stopped sync)."""
        reader = self.__dict__.pop("reader", None)
        if reader is not None:
            reader.close()
        for child in self.child_streams:
            if isinstance(child, KlaviyoStream):
                child.release_workers()

    def static_params(self) -> dict[str, str]:
        """Query parameters every request of the stream carries, e.g. additional-fields."""
        return {}

    @property
    def lookback(self) -> timedelta:
        """How far before the bookmark each run re-reads, for data that arrives late."""
        days = getattr(self.settings, self.lookback_setting) if self.lookback_setting else 0
        return timedelta(days=float(days))

    def run_bounds(
        self, context: Context | None, resume: bool = False
    ) -> tuple[datetime | None, datetime]:
        """Where this run reads a context from and to (read/bounds.py); with ``resume``
        (after a stale cursor) from the last record this run emitted."""
        progress = None
        if resume and self.is_sorted:
            progress = self.get_context_state(context).get("replication_key_value")
        bookmark = (
            saved_bookmark(self.tap_state, self.name, self.state_partitioning_keys, context)
            if self.replication_key and not getattr(self, "refreshing", False)
            else None
        )
        started = self.run_tap.run_started_at
        floor = self.settings.start_for(self.name, started) or self.earliest
        start = run_start(bookmark=bookmark, lookback=self.lookback, floor=floor, progress=progress)
        return start, run_end(self.settings.end, started)

    def request_for(
        self, context: Context | None, token: Any, params: dict[str, Any] | None
    ) -> requests.PreparedRequest:
        request = self.get_http_request(
            page=PageContext(stream_context=context, next_page_token=token)
        )
        if params is not None:
            request.params = params
        return self.http.prepare(request)

    def send(self, prepared: requests.PreparedRequest) -> requests.Response:
        return self.http.send(prepared, self.endpoint)

    def page_records(
        self, response: requests.Response, start: datetime | None, end: datetime | None
    ) -> Page:
        """One response's records, cut to [start, end) where the filter could not be."""
        return self.body_records(response.content, response.url, start, end)

    def body_records(
        self, content: bytes, url: str, start: datetime | None, end: datetime | None
    ) -> Page:
        return self.query.keep_within(list(self.records_from(content, url)), start, end)

    def prepare_run(self) -> None:
        """Decide what the stream needs once per run, before any stream starts."""
        self.plan_full_refresh()

    def look_up(self) -> None:
        """Read what the stream needs once per run (metric names, say) as its sync
        begins, on its own thread: no other stream waits for it."""

    def sync(self, context: Context | None = None) -> None:
        if context is None:
            self.look_up()
        super().sync(context)

    def request_record_pages(self, context: Context | None) -> Iterator[Page]:
        """Pages of records for one context; each page starts its children's reads."""
        for page in self.reader.pages(context, self.run_bounds, self._render_for(context)):
            self.progress.fetched += len(page)
            self.prefetch_children(page, context)
            yield page
        if context is None:
            self.progress.fetched_all = True

    # ---- pages rendered into lines (write/) ----------------------------------------

    @property
    def renders_in_processes(self) -> bool:
        """Whether worker processes may render this stream's pages (its output is
        RENDERED: pages from parallel slices, written a page at a time)."""
        return self.output is Output.RENDERED

    def _render_for(self, context: Context | None) -> Renders | None:
        """How sliced pages of ``context`` render in the tap's worker processes, if any."""
        pool = self.run_tap.render_pool if self.renders_in_processes else None
        if pool is None:
            return None
        return pool.renders_for(self.name, self.stream_version, context, self.lookup_maps())


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

    def prefetch(self, context: Context) -> None:
        """Start fetching this context's pages now; they are read in their turn."""
        if self.reads(context):
            self.reader.prefetch(context, self.run_bounds)

    def reads(self, context: Context | None) -> bool:
        """Whether this run reads ``context`` at all (a snapshot taken recently: no)."""
        return True

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


def output_facts(stream: KlaviyoStream) -> OutputFacts:
    """What decides a stream's output path (write/paths.py), read off the stream."""
    maps = stream.stream_maps
    return OutputFacts(
        plain=isinstance(stream.run_tap.message_writer, LeanWriter)
        and len(maps) == 1
        and type(maps[0]) is SameRecordTransform
        and not maps[0].flattening_enabled
        and all(stream.mask.values()),
        reads_pages=type(stream).get_records is RESTStream.get_records
        and type(stream).request_records is KlaviyoStream.request_records,
        per_record_work=not stream.selected
        or bool(stream.child_streams)
        or stream.parent_stream_type is not None
        or bool(stream.state_partitioning_keys)
        or stream.ABORT_AT_RECORD_COUNT is not None,
        sliced=stream.reader.slices,
    )
