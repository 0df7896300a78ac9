"""A loopback HTTP server that answers like Klaviyo's REST API for read endpoints."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote

from . import query as q
from .data import SimData
from .faults import Fault, Faults
from .filters import Condition, FilterError, parse_filter, validate
from .model import relation, type_for_collection
from .ratelimit import RateLimiter, limits_for
from .reports import (
    REPORTS,
    BodyError,
    ReportEngine,
    body_hash,
    decode_offset,
    encode_offset,
)
from .spec import Operation, Spec, load_spec

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is optional
    orjson = None

CONTENT_TYPE = "application/vnd.api+json"
_REVISION = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:\.[A-Za-z0-9_-]+)?$")
_CHANNEL_REQUIRED = (
    "A channel filter is required to list campaigns. Please try adding either "
    "`equals(messages.channel,'email')`, `equals(messages.channel,'sms')` or "
    "`equals(messages.channel,'mobile_push')` to your filter."
)


@dataclass(frozen=True)
class RequestLog:
    method: str
    path: str
    query: dict[str, list[str]]
    # Header names are lower-cased.
    headers: dict[str, str]
    status: int
    operation_id: str | None
    # sim.clock() (time.monotonic() unless a clock was given) when the request arrived.
    time: float
    # The request body (POSTs).
    body: bytes = b""


class RequestLogList(list[RequestLog]):
    """A list that handler threads append to safely; iterate over a snapshot."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def append(self, item: RequestLog) -> None:
        with self._lock:
            super().append(item)

    def clear(self) -> None:
        with self._lock:
            super().clear()

    def snapshot(self) -> list[RequestLog]:
        with self._lock:
            return list(super().__iter__())

    def __iter__(self) -> Iterator[RequestLog]:
        return iter(self.snapshot())

    def for_operation(self, operation_id: str) -> list[RequestLog]:
        return [r for r in self.snapshot() if r.operation_id == operation_id]


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str,
        source: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.source = source
        self.headers = headers or {}
        self.operation_id: str | None = None

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "status": self.status,
            "code": self.code,
            "title": self.title,
            "detail": self.detail,
        }
        if self.source:
            error["source"] = self.source
        return {"errors": [error]}


def _invalid(detail: str, parameter: str) -> ApiError:
    return ApiError(400, "invalid", "Invalid input.", detail, {"parameter": parameter})


def dumps(document: Any) -> bytes:
    if orjson is not None:
        try:
            return orjson.dumps(document)
        except TypeError:
            pass  # integers beyond 64 bits: the stdlib encoder handles them
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _status_error(status: int) -> ApiError:
    titles = {
        400: ("invalid", "Invalid input."),
        401: ("not_authenticated", "Authentication credentials were not provided."),
        403: ("permission_denied", "You do not have permission to perform this action."),
        404: ("not_found", "Not found."),
        409: ("conflict", "Conflict."),
        429: ("throttled", "Request was throttled."),
        500: ("error", "A server error occurred."),
        502: ("bad_gateway", "Bad gateway."),
        503: ("service_unavailable", "Service unavailable."),
        504: ("gateway_timeout", "Gateway timeout."),
    }
    code, title = titles.get(status, ("error", "Error."))
    return ApiError(status, code, title, f"Injected fault: HTTP {status}.")


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str]
    operation_id: str | None


class KlaviyoSimulator:
    """Klaviyo's read API on 127.0.0.1, driven by the committed spec extract.

    Usable as a context manager. ``rate_limits``, ``rate_limit_scale`` and ``latency`` may be
    changed while it runs.
    """

    def __init__(
        self,
        seed: int = 0,
        rate_limits: bool = False,
        rate_limit_scale: float = 1.0,
        latency: float = 0.0,
        data: SimData | None = None,
        spec: Spec | None = None,
        clock: Callable[[], float] = time.monotonic,
        daily_quota: int | None = None,
        report_page_size: int = 500,
        render_cache: int = 0,
    ) -> None:
        self.seed = seed
        self.rate_limits = rate_limits
        self.rate_limit_scale = rate_limit_scale
        self.latency = latency
        # Rate-limit windows and RequestLog.time read this clock (tests share a virtual one
        # with the tap so that minutes of quota pass at once).
        self.clock = clock
        # Replaces the spec's daily quota of the reporting endpoints (225) when set.
        self.daily_quota = daily_quota
        # Results per page of the reporting endpoints that paginate with page_cursor.
        self.report_page_size = report_page_size
        self.spec = spec or load_spec()
        self.data = data if data is not None else SimData.default(seed)
        digest = hashlib.sha256(f"klaviyo-sim-key-{seed}".encode()).hexdigest()
        self.api_key = f"pk_sim_{digest[:34]}"
        self._keys: dict[str, frozenset[str]] = {self.api_key: self.spec.scopes}
        self._keys_lock = threading.Lock()
        self.requests = RequestLogList()
        self.faults = Faults()
        self.limiter = RateLimiter()
        self._cursors = q.Cursors(hashlib.sha256(f"klaviyo-sim-cursor-{seed}".encode()).digest())
        self._cache = q.QueryCache()
        # Benchmarks only (read-only data): rendered resources kept for reuse, up to
        # this many, so the server spends its CPU on queries rather than on building the
        # same JSON:API objects again. Keyed by the data's generation, it is never stale
        # as long as data changes go through SimData's methods.
        self.render_cache_size = render_cache
        self._rendered: dict[tuple, dict[str, Any]] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("simulator is not running; call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> KlaviyoSimulator:
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server(("127.0.0.1", 0), _Handler)
        server.sim = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        # Keep-alive connections would otherwise go on being served after stop().
        server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> KlaviyoSimulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- configuration ----------------------------------------------------------------------

    def add_key(self, key: str, scopes: set[str] | frozenset[str]) -> None:
        with self._keys_lock:
            self._keys[key] = frozenset(scopes)

    def remove_key(self, key: str) -> None:
        with self._keys_lock:
            self._keys.pop(key, None)

    def reset_rate_limits(self) -> None:
        self.limiter.reset()

    def sleep(self, seconds: float) -> None:
        """Sleep that ends early when the simulator stops."""
        if seconds > 0:
            self._stopping.wait(seconds)

    # -- request handling -------------------------------------------------------------------

    def operation_id(self, method: str, raw_path: str) -> str | None:
        """The operation a request would reach, for logging requests that never get there."""
        for op, _ in self.spec.match(raw_path):
            if op.method == method:
                return op.operation_id
        return None

    def dispatch(
        self, method: str, raw_path: str, raw_query: str, headers: Any, body: bytes = b""
    ) -> Response:
        try:
            return self._dispatch(method, raw_path, raw_query, headers, body)
        except ApiError as err:
            return Response(err.status, dumps(err.body()), dict(err.headers), err.operation_id)

    def _dispatch(
        self, method: str, raw_path: str, raw_query: str, headers: Any, body: bytes
    ) -> Response:
        path = unquote(raw_path)
        matches = self.spec.match(raw_path)
        if not matches:
            raise ApiError(404, "not_found", "Not found.", f"The path {path} was not found.")
        op, path_params = next(
            ((op, params) for op, params in matches if op.method == method), (None, {})
        )
        if op is None:
            allowed = ", ".join(sorted({m.method for m, _ in matches}))
            raise ApiError(
                405,
                "method_not_allowed",
                "Method not allowed.",
                f'Method "{method}" not allowed.',
                headers={"Allow": allowed},
            )
        path_params = {k: unquote(v) for k, v in path_params.items()}
        try:
            return self._operate(op, path_params, raw_path, raw_query, headers, body)
        except ApiError as err:
            err.operation_id = op.operation_id
            raise

    def _authorize(self, op: Operation, headers: Any) -> None:
        auth = headers.get("Authorization") or ""
        scheme, _, key = auth.partition(" ")
        with self._keys_lock:
            scopes = self._keys.get(key.strip()) if scheme == "Klaviyo-API-Key" else None
        if scopes is None:
            raise ApiError(
                401,
                "not_authenticated",
                "Authentication credentials were not provided.",
                "Incorrect authentication credentials.",
                {"pointer": "/data/"},
            )
        if not op.scopes <= scopes:
            raise ApiError(
                403,
                "permission_denied",
                "You do not have permission to perform this action.",
                "You do not have permission to perform this action.",
                {"pointer": "/data/"},
            )

    def _check_revision(self, headers: Any) -> None:
        revision = headers.get("revision")
        if not revision:
            raise ApiError(
                400,
                "invalid",
                "Invalid input.",
                "Missing required header 'revision'.",
                {"header": "revision"},
            )
        match = _REVISION.match(revision.strip())
        valid = False
        if match:
            try:
                when = date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
                valid = when <= date.fromisoformat(self.spec.revision)
            except ValueError:
                valid = False
        if not valid:
            raise ApiError(
                400,
                "invalid",
                "Invalid input.",
                f"Invalid revision header '{revision}'. Revisions look like YYYY-MM-DD "
                f"and must not be later than {self.spec.revision}.",
                {"header": "revision"},
            )

    def _operate(
        self,
        op: Operation,
        path_params: dict[str, str],
        raw_path: str,
        raw_query: str,
        headers: Any,
        body: bytes = b"",
    ) -> Response:
        self._authorize(op, headers)
        self._check_revision(headers)
        raw_params = parse_qs(raw_query, keep_blank_values=True)
        for name, values in raw_params.items():
            if len(values) > 1:
                raise _invalid(f"Query parameter '{name}' was given more than once.", name)
        params = {name: values[0] for name, values in raw_params.items()}

        key, windows = limits_for(
            op, params, self.rate_limit_scale if self.rate_limits else 1.0, self.daily_quota
        )
        decision = self.limiter.hit(key, windows, self.clock(), self.rate_limits)
        if not decision.allowed:
            seconds = decision.retry_after
            unit = "second" if seconds == 1 else "seconds"
            raise ApiError(
                429,
                "throttled",
                "Request was throttled.",
                f"Request was throttled. Expected available in {seconds} {unit}.",
                headers={"Retry-After": str(seconds)},
            )
        rate_headers = {}
        if windows:
            rate_headers = {
                "RateLimit-Limit": str(decision.limit),
                "RateLimit-Remaining": str(decision.remaining),
                "RateLimit-Reset": str(decision.reset),
            }
        if op.method == "POST" and (
            op.operation_id in REPORTS or op.operation_id == "query_metric_aggregates"
        ):
            with self.data.lock:
                document = self._post(op, params, raw_path, raw_query, headers, body)
                payload = dumps(document)
            return Response(200, payload, rate_headers, op.operation_id)
        if op.method != "GET":
            raise ApiError(
                501,
                "not_implemented",
                "Not implemented.",
                f"The simulator does not implement {op.operation_id}.",
            )
        with self.data.lock:
            document = self._read(op, path_params, params, raw_path, raw_query)
            body = dumps(document)
        return Response(200, body, rate_headers, op.operation_id)

    # -- reporting POSTs --------------------------------------------------------------------

    def _post(
        self,
        op: Operation,
        params: dict[str, str],
        raw_path: str,
        raw_query: str,
        headers: Any,
        body: bytes,
    ) -> dict[str, Any]:
        for name in params:
            if name not in op.query_params:
                raise _invalid(f"'{name}' is not a valid query parameter for this endpoint.", name)
        content_type = (headers.get("Content-Type") or "").split(";")[0].strip()
        if content_type not in ("application/json", "application/vnd.api+json"):
            raise ApiError(
                415,
                "unsupported_media_type",
                "Unsupported media type.",
                f'Unsupported media type "{content_type}" in request.',
            )
        engine = ReportEngine(self.data, self._cursors)
        self_link = f"{self.url}{raw_path}" + (f"?{raw_query}" if raw_query else "")
        try:
            attributes = engine.parse_body(op, body)
            if op.operation_id == "query_metric_aggregates":
                return self._metric_aggregate(engine, op, attributes, raw_path, self_link)
            return self._report(engine, op, attributes, params, raw_path, raw_query, self_link)
        except BodyError as err:
            source = {"pointer": err.pointer} if err.pointer else {"parameter": err.parameter}
            raise ApiError(400, "invalid", "Invalid input.", err.detail, source) from None

    def _report(
        self,
        engine: ReportEngine,
        op: Operation,
        attributes: dict[str, Any],
        params: dict[str, str],
        raw_path: str,
        raw_query: str,
        self_link: str,
    ) -> dict[str, Any]:
        query = engine.parse_report(op, attributes)
        results, date_times = engine.results(query)
        qhash = body_hash(op.operation_id, attributes)
        links: dict[str, Any] = {"self": self_link}
        if op.paginated:
            size = max(1, self.report_page_size)
            cursor = params.get(op.cursor_param or "")
            offset = (
                decode_offset(self._cursors, qhash, cursor, parameter=op.cursor_param)
                if cursor is not None
                else 0
            )
            page = results[offset : offset + size]
            links["next"] = (
                self._next_link(
                    raw_path, raw_query, op, encode_offset(self._cursors, qhash, offset + size)
                )
                if offset + size < len(results)
                else None
            )
            links["prev"] = (
                self._next_link(
                    raw_path,
                    raw_query,
                    op,
                    encode_offset(self._cursors, qhash, max(0, offset - size)),
                )
                if offset > 0
                else None
            )
        else:
            page = results
        report: dict[str, Any] = {"results": page}
        if date_times is not None:
            report["date_times"] = date_times
        data: dict[str, Any] = {
            "type": op.resource_type,
            "id": qhash,
            "attributes": report,
        }
        related = {
            "campaign": (("campaigns", "campaign", "campaign_id"),),
            "flow": (
                ("flows", "flow", "flow_id"),
                ("flow-messages", "flow-message", "flow_message_id"),
            ),
        }.get(query.family, ())
        if related:
            data["relationships"] = {
                name: {
                    "data": [
                        {"type": kind, "id": rid}
                        for rid in dict.fromkeys(
                            r["groupings"].get(key) for r in page if r["groupings"].get(key)
                        )
                    ]
                }
                for name, kind, key in related
            }
        return {"data": data, "links": links}

    def _metric_aggregate(
        self,
        engine: ReportEngine,
        op: Operation,
        attributes: dict[str, Any],
        raw_path: str,
        self_link: str,
    ) -> dict[str, Any]:
        query, rows, size = engine.metric_aggregate(op, attributes, self.report_page_size)
        qhash = body_hash(op.operation_id, attributes)
        offset = 0
        if attributes.get("page_cursor") is not None:
            offset = decode_offset(
                self._cursors,
                qhash,
                attributes["page_cursor"],
                pointer="/data/attributes/page_cursor",
            )
        page = rows[offset : offset + size]

        def link(position: int) -> str:
            # The spec reads the cursor from the body; responses carry it in links.next.
            return (
                f"{self.url}{raw_path}?page_cursor={encode_offset(self._cursors, qhash, position)}"
            )

        return {
            "data": {
                "type": "metric-aggregate",
                "id": qhash,
                "attributes": {
                    "dates": [d.isoformat() for d in engine.aggregate_dates(query)],
                    "data": page,
                },
                "links": {"self": self_link},
            },
            "links": {
                "self": self_link,
                "next": link(offset + size) if offset + size < len(rows) else None,
                "prev": link(max(0, offset - size)) if offset > 0 else None,
            },
        }

    # -- GET semantics ----------------------------------------------------------------------

    def _parse_params(
        self, op: Operation, params: dict[str, str]
    ) -> tuple[list[Condition], str | None, bool, int, q.RenderContext]:
        for name in params:
            if name not in op.query_params:
                raise _invalid(f"'{name}' is not a valid query parameter for this endpoint.", name)

        include: set[str] = set()
        if "include" in params:
            for value in params["include"].split(","):
                if not op.include or value not in op.include:
                    allowed = ", ".join(op.include or ())
                    raise _invalid(
                        f"'{value}' is not a valid include value. Valid values: {allowed}.",
                        "include",
                    )
                include.add(value)

        additional: dict[str, set[str]] = {}
        fields: dict[str, list[str]] = {}
        for name, value in params.items():
            if name.startswith("additional-fields["):
                kind = name[len("additional-fields[") : -1]
                allowed = op.additional_fields.get(kind, ())
                for item in value.split(","):
                    if item not in allowed:
                        raise _invalid(
                            f"'{item}' is not a valid value for {name}. "
                            f"Valid values: {', '.join(allowed)}.",
                            name,
                        )
                additional[kind] = set(value.split(","))
            elif name.startswith("fields["):
                kind = name[len("fields[") : -1]
                fields[kind] = [f for f in value.split(",") if f]

        sort_field: str | None = None
        descending = False
        if "sort" in params:
            value = params["sort"]
            if not op.sort or value not in op.sort:
                allowed = ", ".join(op.sort or ())
                raise _invalid(
                    f"'{value}' is not a valid sort value. Valid values: {allowed}.", "sort"
                )
            descending = value.startswith("-")
            sort_field = value.lstrip("-")

        size = op.effective_page_size
        if "page[size]" in params:
            raw = params["page[size]"]
            maximum = op.page_size_max or size
            if not re.fullmatch(r"\d+", raw) or not 1 <= int(raw) <= maximum:
                raise _invalid(
                    f"Page size must be an integer between 1 and {maximum}; got '{raw}'.",
                    "page[size]",
                )
            size = int(raw)

        conditions: list[Condition] = []
        if "filter" in params:
            try:
                conditions = parse_filter(params["filter"])
                validate(op, conditions)
            except FilterError as err:
                raise _invalid(str(err), "filter") from err
        if op.operation_id == "get_campaigns" and not any(
            c.field == "messages.channel" for c in conditions
        ):
            raise _invalid(_CHANNEL_REQUIRED, "filter")
        if op.filter_required and not conditions:
            raise _invalid("A filter is required for this endpoint.", "filter")
        if "archived" in op.filters and not any(c.field == "archived" for c in conditions):
            # Archived campaigns and flows are only listed when asked for explicitly.
            conditions.append(Condition("equals", "archived", False, has_value=True))

        ctx = q.RenderContext(
            self.data, "", additional, fields, include, frozenset(op.include or ())
        )
        return conditions, sort_field, descending, size, ctx

    def _read(
        self,
        op: Operation,
        path_params: dict[str, str],
        params: dict[str, str],
        raw_path: str,
        raw_query: str,
    ) -> dict[str, Any]:
        conditions, sort_field, descending, size, ctx = self._parse_params(op, params)
        ctx.base_url = self.url
        self_link = f"{self.url}{raw_path}" + (f"?{raw_query}" if raw_query else "")
        primary_type = op.resource_type or type_for_collection(op.collection)

        if op.kind == "single":
            parent_type = type_for_collection(op.collection)
            resource = self.data.stored_one(parent_type, path_params.get("id", ""))
            if resource is None:
                raise ApiError(404, "not_found", "Not found.", f"No {parent_type} found.")
            row: q.Row = (resource, None)
            document: dict[str, Any] = {"data": q.render(ctx, row), "links": {"self": self_link}}
            if ctx.include:
                document["included"] = q.included(ctx, [row])
            return document

        rows: list[q.Row] | None = None
        to_one = False
        if op.kind in ("related", "relationship"):
            parent_type = type_for_collection(op.collection)
            parent_id = path_params.get("id", "")
            if self.data.stored_one(parent_type, parent_id) is None:
                raise ApiError(404, "not_found", "Not found.", f"No {parent_type} found.")
            rel = relation(parent_type, op.relation or "")
            to_one = rel is not None and not rel.many
            if rel is not None:
                primary_type = rel.target
            members = (
                self.data.membership(parent_type, parent_id)
                if parent_type in ("list", "segment") and op.relation == "profiles"
                else None
            )
            rows = []
            for target_type, target_id in self.data.targets(
                parent_type, parent_id, op.relation or ""
            ):
                target = self.data.stored_one(target_type, target_id)
                if target is not None:
                    rows.append((target, members.get(target_id) if members is not None else None))
            if op.kind == "relationship":
                # Identifiers only: joined_group_at is still used for filtering and sorting.
                pass
        elif op.kind != "collection":
            return {"data": [], "links": {"self": self_link}}

        if to_one:
            target = rows[0] if rows else None
            if op.kind == "relationship":
                data: Any = q.identifier(target) if target else None
            else:
                data = q.render(ctx, target) if target else None
            return {"data": data, "links": {"self": self_link}}

        if sort_field is None:
            sort_field = q.default_sort(primary_type)
        self.data.stored(primary_type)  # load lazily generated data before keying the cache
        cache_key = (
            op.operation_id,
            tuple(sorted(path_params.items())),
            params.get("filter"),
            sort_field,
            self.data.generation,
        )
        result = self._cache.get(cache_key)
        if result is None:
            result = q.select(self.data, rows, primary_type, conditions, sort_field)
            self._cache.put(cache_key, result)

        next_link = None
        if op.paginated:
            qhash = q.query_hash(op, path_params, params)
            after = None
            cursor = params.get(op.cursor_param or "")
            if cursor is not None:
                try:
                    after = self._cursors.decode(qhash, cursor)
                except (q.CursorError, ValueError) as err:
                    raise _invalid(
                        str(err) if isinstance(err, q.CursorError) else "Invalid page cursor.",
                        op.cursor_param or "page[cursor]",
                    ) from err
            page_rows, position = q.page(result, after, size, descending)
            if position is not None:
                next_link = self._next_link(
                    raw_path, raw_query, op, self._cursors.encode(qhash, position)
                )
        else:
            page_rows = list(reversed(result.rows)) if descending else list(result.rows)

        if op.kind == "relationship":
            data = [q.identifier(r) for r in page_rows]
        elif self.render_cache_size and not ctx.include:
            data = self._render_cached(ctx, page_rows)
        else:
            data = [q.render(ctx, r) for r in page_rows]
        links: dict[str, Any] = {"self": self_link}
        if next_link is not None:
            # The spec's CollectionLinks has non-nullable next/prev: absent on the last page.
            links["next"] = next_link
        document = {"data": data, "links": links}
        if ctx.include and op.kind != "relationship":
            document["included"] = q.included(ctx, page_rows)
        return document

    def _render_cached(self, ctx: q.RenderContext, rows: list[q.Row]) -> list[dict[str, Any]]:
        view = (
            self.data.generation,
            ctx.base_url,
            tuple(sorted((k, tuple(sorted(v))) for k, v in ctx.additional.items())),
            tuple(sorted((k, tuple(v)) for k, v in ctx.fields.items())),
            ctx.includable,
        )
        out = []
        for row in rows:
            resource, joined = row
            key = (view, resource["type"], resource["id"], joined)
            rendered = self._rendered.get(key)
            if rendered is None:
                if len(self._rendered) >= self.render_cache_size:
                    self._rendered.clear()
                rendered = self._rendered[key] = q.render(ctx, row)
            out.append(rendered)
        return out

    def _next_link(self, raw_path: str, raw_query: str, op: Operation, cursor: str) -> str:
        """The request's own query string, unchanged, with the cursor replaced."""
        name = op.cursor_param or "page[cursor]"
        kept = [
            part
            for part in raw_query.split("&")
            if part and unquote(part.split("=", 1)[0].replace("+", " ")) != name
        ]
        encoded = name.replace("[", "%5B").replace("]", "%5D")
        kept.append(f"{encoded}={cursor}")
        return f"{self.url}{raw_path}?{'&'.join(kept)}"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self.sim: KlaviyoSimulator | None = None
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections, self._connections = list(self._connections), set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "KlaviyoSimulator/1.0"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        pass  # requests are recorded in sim.requests instead

    def setup(self) -> None:
        super().setup()
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    @property
    def sim(self) -> KlaviyoSimulator:
        return self.server.sim  # type: ignore[attr-defined,return-value]

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        sim = self.sim
        arrived = sim.clock()
        raw_path, _, raw_query = self.path.partition("?")
        path = unquote(raw_path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""

        def log(status: int, operation_id: str | None) -> None:
            # Recorded before the response is written, so a client that has its answer
            # always finds the request in sim.requests.
            sim.requests.append(
                RequestLog(
                    method=self.command,
                    path=path,
                    query=parse_qs(raw_query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    status=status,
                    operation_id=operation_id,
                    time=arrived,
                    body=body,
                )
            )

        try:
            fault = sim.faults.take(self.command, path.rstrip("/") or "/", raw_query)
            if fault is not None and fault.kind == "stale_cursor":
                sim.sleep(sim.latency)
                log(400, sim.operation_id(self.command, raw_path))
                error = _invalid("The page cursor is invalid or has expired.", "page[cursor]")
                self._send(400, dumps(error.body()), {})
                return
            if fault is not None and fault.kind in ("status", "reset"):
                sim.sleep(sim.latency)
                operation_id = sim.operation_id(self.command, raw_path)
                if fault.kind == "reset":
                    log(0, operation_id)
                    self._reset()
                    return
                headers = {}
                if fault.retry_after is not None:
                    headers["Retry-After"] = str(fault.retry_after)
                log(fault.status, operation_id)
                self._send(fault.status, dumps(_status_error(fault.status).body()), headers)
                return
            if fault is not None and fault.kind == "timeout":
                sim.sleep(fault.timeout_seconds)
            response = sim.dispatch(self.command, raw_path, raw_query, self.headers, body)
            sim.sleep(sim.latency)
            if fault is not None and fault.kind == "truncated":
                log(response.status, response.operation_id)
                self._send(response.status, response.body, response.headers, truncate=True)
            elif fault is not None and fault.kind == "invalid_json":
                log(200, response.operation_id)
                broken = response.body[: max(1, len(response.body) // 2)] + b'",}'
                self._send(200, broken, response.headers)
            else:
                log(response.status, response.operation_id)
                self._send(response.status, response.body, response.headers)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _send(
        self, status: int, body: bytes, headers: dict[str, str], truncate: bool = False
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(body) + (1024 if truncate else 0)))
        for name, value in headers.items():
            self.send_header(name, value)
        if truncate:
            self.send_header("Connection", "close")
        # Headers and body in one write: two small writes meet Nagle and delayed ACKs and
        # cost 40 ms per request.
        self._headers_buffer.append(b"\r\n")  # type: ignore[attr-defined]
        self._headers_buffer.append(body[: len(body) // 2] if truncate else body)  # type: ignore[attr-defined]
        self.flush_headers()
        if truncate:
            # A clean FIN (not RST) so the client reads the partial body, then EOF.
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_WR)

    def _reset(self) -> None:
        """Close the socket with RST so the client sees a dropped connection."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass


__all__ = ["ApiError", "Fault", "KlaviyoSimulator", "RequestLog", "Response"]
