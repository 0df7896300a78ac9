"""What streams look up once per run and share: the account's timezone (reports) and
its metrics (reports, events), read with GET requests of their own, never emitted."""

from __future__ import annotations

import logging
import re
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from singer_sdk.streams.rest import HTTPRequest

from tap_klaviyo import spec
from tap_klaviyo.dates import named_zone
from tap_klaviyo.errors import KlaviyoAPIError, KlaviyoError, SettingsError
from tap_klaviyo.read.pages import KlaviyoPaginator, paginate
from tap_klaviyo.read.query import Query
from tap_klaviyo.transport.http import Endpoint, HttpClient
from tap_klaviyo.transport.jsonapi import flatten_resource, page_resources
from tap_klaviyo.transport.ratelimit import limiter_for


@dataclass
class RunLookups:
    lock: threading.Lock = field(default_factory=threading.Lock)
    zone: ZoneInfo | None = None
    metrics: list[dict[str, Any]] | None = None


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


def _metrics(tap: Any, logger: logging.Logger) -> list[dict[str, Any]]:
    """Every metric of the account (id, name, created, integration), read once per run
    whoever asks first; a refusal is raised as Klaviyo gave it, and not kept.

    ``GET /api/metrics`` cannot filter by name (only by integration), so it is scanned.
    """
    lookups = lookups_for(tap)
    with lookups.lock:
        if lookups.metrics is None:
            lookups.metrics = read_collection(tap, "/api/metrics", "metric_lookup", logger)
        return lookups.metrics


def account_metrics(tap: Any, caller: str, logger: logging.Logger) -> list[dict[str, Any]]:
    """The account's metrics for ``caller``, which looks them up by name."""
    try:
        return _metrics(tap, logger)
    except KlaviyoAPIError as exc:
        if exc.status != 403:
            raise
        raise KlaviyoError(
            f"Stream '{caller}' looks metrics up by name with GET /api/metrics, "
            "and the API key lacks the scope metrics:read. Add the scope, or give "
            "metric ids (`conversion_metric_id`, `metric_id` in metric_aggregates)."
        ) from None


_METRIC_ID = re.compile(r"^[A-Za-z0-9]{6}$")


def event_metric_ids(tap: Any, chosen: tuple[str, ...], logger: logging.Logger) -> list[str]:
    """``event_metric_ids`` as metric ids: each value is an id of the account's metrics or
    the name of one or more of them (one request per 200 metrics, once per run)."""
    try:
        metrics = _metrics(tap, logger)
    except KlaviyoAPIError as exc:
        if exc.status == 403 and all(_METRIC_ID.match(value) for value in chosen):
            return list(chosen)  # ids, which only the metrics:read scope could check
        raise
    by_id = {m["id"] for m in metrics}
    ids: list[str] = []
    for value in chosen:
        found = [value] if value in by_id else [m["id"] for m in metrics if m.get("name") == value]
        if not found:
            names = sorted({str(m.get("name")) for m in metrics})
            raise SettingsError(
                f"Setting `event_metric_ids` has {value!r}, which is neither the id nor the "
                f"name of a metric of this account (it has: {', '.join(names) or 'none'})."
            )
        if value not in by_id:
            logger.info("Events of metric %r: metric id(s) %s", value, ", ".join(found))
        ids += [metric_id for metric_id in found if metric_id not in ids]
    return ids


def metric_names(tap: Any, logger: logging.Logger) -> dict[str, str]:
    """Every metric's name by its id, for the events' `metric_name` column; empty (and
    said once) when the key may not read metrics."""
    lookups = lookups_for(tap)
    try:
        metrics = account_metrics(tap, "events", logger)
    except KlaviyoError:
        logger.warning(
            "Stream 'events': `metric_name` stays empty: the API key may not read "
            "GET /api/metrics (scope metrics:read)."
        )
        return {}
    with lookups.lock:
        return {str(m["id"]): str(m.get("name")) for m in metrics}
