"""The reporting POSTs: content type and body checks, then the report or metric-aggregate
document with its ``page_cursor`` links (the results come from ``reports``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import ApiError, invalid
from .reads import cursor_link
from .reports import BodyError, ReportEngine, body_hash, decode_offset, encode_offset
from .spec import Operation

if TYPE_CHECKING:
    from .server import KlaviyoSimulator


def post(
    sim: KlaviyoSimulator,
    op: Operation,
    params: dict[str, str],
    raw_path: str,
    raw_query: str,
    headers: Any,
    body: bytes,
) -> dict[str, Any]:
    """The document a reporting POST answers with; the caller holds the data lock."""
    for name in params:
        if name not in op.query_params:
            raise invalid(f"'{name}' is not a valid query parameter for this endpoint.", name)
    content_type = (headers.get("Content-Type") or "").split(";")[0].strip()
    if content_type not in ("application/json", "application/vnd.api+json"):
        raise ApiError(
            415,
            "unsupported_media_type",
            "Unsupported media type.",
            f'Unsupported media type "{content_type}" in request.',
        )
    engine = ReportEngine(sim.data, sim.cursors)
    self_link = f"{sim.url}{raw_path}" + (f"?{raw_query}" if raw_query else "")
    try:
        attributes = engine.parse_body(op, body)
        if op.operation_id == "query_metric_aggregates":
            return _metric_aggregate(sim, engine, op, attributes, raw_path, self_link)
        return _report(sim, engine, op, attributes, params, raw_path, raw_query, self_link)
    except BodyError as err:
        source = {"pointer": err.pointer} if err.pointer else {"parameter": err.parameter}
        raise ApiError(400, "invalid", "Invalid input.", err.detail, source) from None


def _report(
    sim: KlaviyoSimulator,
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
        size = max(1, sim.report_page_size)
        cursor = params.get(op.cursor_param or "")
        offset = (
            decode_offset(sim.cursors, qhash, cursor, parameter=op.cursor_param)
            if cursor is not None
            else 0
        )
        page = results[offset : offset + size]
        links["next"] = (
            cursor_link(
                sim.url,
                raw_path,
                raw_query,
                op,
                encode_offset(sim.cursors, qhash, offset + size),
            )
            if offset + size < len(results)
            else None
        )
        links["prev"] = (
            cursor_link(
                sim.url,
                raw_path,
                raw_query,
                op,
                encode_offset(sim.cursors, qhash, max(0, offset - size)),
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
    sim: KlaviyoSimulator,
    engine: ReportEngine,
    op: Operation,
    attributes: dict[str, Any],
    raw_path: str,
    self_link: str,
) -> dict[str, Any]:
    query, rows, size = engine.metric_aggregate(op, attributes, sim.report_page_size)
    qhash = body_hash(op.operation_id, attributes)
    offset = 0
    if attributes.get("page_cursor") is not None:
        offset = decode_offset(
            sim.cursors,
            qhash,
            attributes["page_cursor"],
            pointer="/data/attributes/page_cursor",
        )
    page = rows[offset : offset + size]

    def link(position: int) -> str:
        # The spec reads the cursor from the body; responses carry it in links.next.
        return f"{sim.url}{raw_path}?page_cursor={encode_offset(sim.cursors, qhash, position)}"

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
