"""What report streams look up once per run and share: the account's timezone and
its metrics (read with GET requests of their own, never emitted)."""

from __future__ import annotations

import logging
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from singer_sdk.streams.rest import HTTPRequest

from tap_klaviyo import spec
from tap_klaviyo.errors import KlaviyoAPIError, KlaviyoError
from tap_klaviyo.read.pages import KlaviyoPaginator, paginate
from tap_klaviyo.read.query import Query
from tap_klaviyo.streams.reporting.settings import named_zone
from tap_klaviyo.transport.http import Endpoint, HttpClient
from tap_klaviyo.transport.jsonapi import flatten_resource, page_resources
from tap_klaviyo.transport.ratelimit import limiter_for


@dataclass
class RunLookups:
    lock: threading.Lock = field(default_factory=threading.Lock)
    zone: ZoneInfo | None = None
    metrics: list[dict[str, Any]] | None = None
    plan_logged: bool = False


_RUNS: weakref.WeakKeyDictionary[Any, RunLookups] = weakref.WeakKeyDictionary()
_RUNS_LOCK = threading.Lock()


def lookups_for(tap: Any) -> RunLookups:
    with _RUNS_LOCK:
        found = _RUNS.get(tap)
        if found is None:
            found = _RUNS[tap] = RunLookups()
        return found


def read_collection(tap: Any, path: str, name: str, logger: logging.Logger) -> list[dict]:
    """Every resource of a GET collection as flat records; ``name`` is the lookup's name
    in messages."""
    settings = tap.settings
    operation = spec.operation_for("GET", path)
    http = HttpClient(name, settings, logger, tap.stop)
    endpoint = Endpoint(limiter_for(settings, operation, {}), operation.scopes)
    headers = http.headers()

    def request(url: str, params: dict[str, Any] | None = None) -> Any:
        return http.prepare(
            HTTPRequest(url=url, method="GET", headers=headers, params=params or {})
        )

    records: list[dict] = []
    for response in paginate(
        request(settings.base_url + path, Query(operation).params(None, None, None)),
        lambda prepared: http.send(prepared, endpoint),
        KlaviyoPaginator().get_next,
        lambda token: request(token.geturl()),
        stream=name,
    ):
        records.extend(map(flatten_resource, page_resources(response.content, response.url, name)))
    return records


def account_zone(tap: Any, caller: str, logger: logging.Logger) -> ZoneInfo:
    """The account's timezone from GET /api/accounts, once per run."""
    lookups = lookups_for(tap)
    with lookups.lock:
        if lookups.zone is None:
            try:
                accounts = read_collection(tap, "/api/accounts", "reporting_account_lookup", logger)
            except KlaviyoAPIError as exc:
                if exc.status == 403:
                    raise KlaviyoError(
                        f"Stream '{caller}' needs the account's timezone, and the API key may "
                        "not read GET /api/accounts (scope accounts:read). Add the scope or set "
                        "`reporting_timezone`."
                    ) from None
                raise
            name = next((a.get("timezone") for a in accounts if a.get("timezone")), None)
            if not name:
                raise KlaviyoError("GET /api/accounts gave no timezone; set `reporting_timezone`.")
            lookups.zone = named_zone(str(name), "the account's timezone")
            logger.info("Report windows use the account's timezone %s", name)
        return lookups.zone


def account_metrics(tap: Any, caller: str, logger: logging.Logger) -> list[dict[str, Any]]:
    """Every metric of the account (id, name, created, integration), read once per run.

    ``GET /api/metrics`` cannot filter by name (only by integration), so it is scanned.
    """
    lookups = lookups_for(tap)
    with lookups.lock:
        if lookups.metrics is None:
            try:
                lookups.metrics = read_collection(
                    tap, "/api/metrics", "reporting_metric_lookup", logger
                )
            except KlaviyoAPIError as exc:
                if exc.status != 403:
                    raise
                raise KlaviyoError(
                    f"Stream '{caller}' looks metrics up by name with GET /api/metrics, "
                    "and the API key lacks the scope metrics:read. Add the scope, or give "
                    "metric ids (`conversion_metric_id`, `metric_id` in metric_aggregates)."
                ) from None
        return lookups.metrics
