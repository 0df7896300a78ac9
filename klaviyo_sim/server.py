"""A loopback HTTP server that answers like Klaviyo's REST API for read endpoints.

``KlaviyoSimulator`` routes a request, checks its key, scopes, ``revision`` header and rate
limits, then hands it to ``reads`` (GET) or ``posts`` (the reporting POSTs); ``transport``
is the HTTP layer and plays the faults.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Callable, Iterable
from datetime import date
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote

from . import query as q
from . import reality as quirks
from .data import SimData
from .errors import ApiError, Response, dumps, invalid
from .faults import Fault, Faults
from .posts import post
from .ratelimit import RateLimiter, limits_for
from .reads import read
from .reports import REPORTS
from .spec import Operation, Spec, load_spec
from .transport import Handler, RequestLog, RequestLogList, Server

_REVISION = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:\.[A-Za-z0-9_-]+)?$")


class KlaviyoSimulator:
    """Klaviyo's read API on 127.0.0.1, driven by the committed spec extract.

    Usable as a context manager. ``rate_limits``, ``rate_limit_scale``, ``latency``,
    ``reality`` and ``add_ons`` may be changed while it runs.
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
        reality: bool = False,
        add_ons: Iterable[str] | None = None,
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
        # The reality layer (reality.py): Klaviyo's live behaviour where it differs from the
        # spec. Without ``data``, it also picks the seed's reality variant.
        self.reality = reality
        # The account's paid add-ons, which the reality layer's plan-gated endpoints need
        # (reality.PLAN_GATED); None: reality.DEFAULT_ADD_ONS.
        self.add_ons = add_ons
        self.spec = spec or load_spec()
        self.data = data if data is not None else SimData.default(seed, reality=reality)
        digest = hashlib.sha256(f"klaviyo-sim-key-{seed}".encode()).hexdigest()
        self.api_key = f"pk_sim_{digest[:34]}"
        self._keys: dict[str, frozenset[str]] = {self.api_key: self.spec.scopes}
        self._keys_lock = threading.Lock()
        self.requests = RequestLogList()
        self.faults = Faults()
        self.limiter = RateLimiter()
        # Shared with reads.py and posts.py, which build the documents.
        self.cursors = q.Cursors(hashlib.sha256(f"klaviyo-sim-cursor-{seed}".encode()).digest())
        self.query_cache = q.QueryCache()
        # Benchmarks only (read-only data): rendered resources kept for reuse, up to
        # this many, so the server spends its CPU on queries rather than on building the
        # same JSON:API objects again. Keyed by the data's generation, it is never stale
        # as long as data changes go through SimData's methods.
        self.render_cache_size = render_cache
        self.rendered: dict[tuple, dict[str, Any]] = {}
        self._server: Server | None = None
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
        server = Server(("127.0.0.1", 0), Handler)
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

    @property
    def add_ons(self) -> frozenset[str] | None:
        return self._add_ons

    @add_ons.setter
    def add_ons(self, value: Iterable[str] | None) -> None:
        if value is None:
            self._add_ons: frozenset[str] | None = None
            return
        names = frozenset([value] if isinstance(value, str) else value)
        unknown = names - quirks.ADD_ONS
        if unknown:
            known = ", ".join(sorted(quirks.ADD_ONS))
            raise ValueError(f"unknown add-on(s) {', '.join(sorted(unknown))}; known: {known}")
        self._add_ons = names

    def account_add_ons(self) -> frozenset[str]:
        """The add-ons the account has: ``add_ons``, or the reality layer's default."""
        return quirks.DEFAULT_ADD_ONS if self._add_ons is None else self._add_ons

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
        if self.reality:
            # Endpoints the account's plan lacks: 403 whatever the scopes (README).
            gate = quirks.plan_gate(op.operation_id, self.account_add_ons())
            if gate is not None:
                raise ApiError(
                    403,
                    "permission_denied",
                    "You do not have permission to perform this action.",
                    gate.detail,
                    {"pointer": "/data/"},
                )
        raw_params = parse_qs(raw_query, keep_blank_values=True)
        for name, values in raw_params.items():
            if len(values) > 1:
                raise invalid(f"Query parameter '{name}' was given more than once.", name)
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
                document = post(self, op, params, raw_path, raw_query, headers, body)
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
            document = read(self, op, path_params, params, raw_path, raw_query)
            body = dumps(document)
        return Response(200, body, rate_headers, op.operation_id)


__all__ = ["ApiError", "Fault", "KlaviyoSimulator", "RequestLog", "Response"]
