"""GET operations: query parameters checked against the spec, then the JSON:API document
(a single resource, a to-one relation, or a page of a collection with its cursor link)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from . import query as q
from . import reality
from .data import SimData
from .errors import ApiError, invalid
from .filters import Condition, FilterError, parse_filter, validate
from .model import relation, type_for_collection
from .spec import Operation

if TYPE_CHECKING:
    from .server import KlaviyoSimulator

_CHANNEL_REQUIRED = (
    "A channel filter is required to list campaigns. Please try adding either "
    "`equals(messages.channel,'email')`, `equals(messages.channel,'sms')` or "
    "`equals(messages.channel,'mobile_push')` to your filter."
)


def parse_params(
    data: SimData, op: Operation, params: dict[str, str]
) -> tuple[list[Condition], str | None, bool, int, q.RenderContext]:
    """(filter conditions, sort field, descending, page size, render context), or a 400."""
    for name in params:
        if name not in op.query_params:
            raise invalid(f"'{name}' is not a valid query parameter for this endpoint.", name)

    include: set[str] = set()
    if "include" in params:
        for value in params["include"].split(","):
            if not op.include or value not in op.include:
                allowed = ", ".join(op.include or ())
                raise invalid(
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
                    raise invalid(
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
            raise invalid(f"'{value}' is not a valid sort value. Valid values: {allowed}.", "sort")
        descending = value.startswith("-")
        sort_field = value.lstrip("-")

    size = op.effective_page_size
    if "page[size]" in params:
        raw = params["page[size]"]
        maximum = op.page_size_max or size
        if not re.fullmatch(r"\d+", raw) or not 1 <= int(raw) <= maximum:
            raise invalid(
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
            raise invalid(str(err), "filter") from err
    if op.operation_id == "get_campaigns" and not any(
        c.field == "messages.channel" for c in conditions
    ):
        raise invalid(_CHANNEL_REQUIRED, "filter")
    if op.filter_required and not conditions:
        raise invalid("A filter is required for this endpoint.", "filter")
    if "archived" in op.filters and not any(c.field == "archived" for c in conditions):
        # Archived campaigns and flows are only listed when asked for explicitly.
        conditions.append(Condition("equals", "archived", False, has_value=True))

    ctx = q.RenderContext(data, "", additional, fields, include, frozenset(op.include or ()))
    return conditions, sort_field, descending, size, ctx


def read(
    sim: KlaviyoSimulator,
    op: Operation,
    path_params: dict[str, str],
    params: dict[str, str],
    raw_path: str,
    raw_query: str,
) -> dict[str, Any]:
    """The document a GET answers with; the caller holds the data lock."""
    conditions, sort_field, descending, size, ctx = parse_params(sim.data, op, params)
    ctx.base_url = sim.url
    real = bool(sim.reality)
    if real:
        ctx.reality = True
        ctx.operation_id = op.operation_id
        account = next(iter(sim.data.stored("account").values()), None)
        ctx.company = (account or {}).get("attributes", {}).get("public_api_key")
    self_link = f"{sim.url}{raw_path}" + (f"?{raw_query}" if raw_query else "")
    primary_type = op.resource_type or type_for_collection(op.collection)

    if op.kind == "single":
        parent_type = type_for_collection(op.collection)
        resource = sim.data.stored_one(parent_type, path_params.get("id", ""))
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
        if sim.data.stored_one(parent_type, parent_id) is None:
            raise ApiError(404, "not_found", "Not found.", f"No {parent_type} found.")
        rel = relation(parent_type, op.relation or "")
        to_one = rel is not None and not rel.many
        if rel is not None:
            primary_type = rel.target
        members = (
            sim.data.membership(parent_type, parent_id)
            if parent_type in ("list", "segment") and op.relation == "profiles"
            else None
        )
        rows = []
        for target_type, target_id in sim.data.targets(parent_type, parent_id, op.relation or ""):
            target = sim.data.stored_one(target_type, target_id)
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
    sim.data.stored(primary_type)  # load lazily generated data before keying the cache
    cache_key = (
        op.operation_id,
        tuple(sorted(path_params.items())),
        params.get("filter"),
        sort_field,
        descending,
        sim.data.generation,
    )
    result = sim.query_cache.get(cache_key)
    if result is None:
        result = q.select(sim.data, rows, primary_type, conditions, sort_field, descending)
        sim.query_cache.put(cache_key, result)

    next_link = None
    if op.paginated:
        qhash = q.query_hash(op, path_params, params)
        after = None
        cursor = params.get(op.cursor_param or "")
        if cursor is not None:
            try:
                after = sim.cursors.decode(qhash, cursor)
            except (q.CursorError, ValueError) as err:
                raise invalid(
                    str(err) if isinstance(err, q.CursorError) else "Invalid page cursor.",
                    op.cursor_param or "page[cursor]",
                ) from err
        shown = _shown(sim, op, conditions, sort_field, descending, result) if real else None
        page_rows, position = q.page(result, after, size, descending, shown)
        if position is not None:
            next_link = cursor_link(
                sim.url, raw_path, raw_query, op, sim.cursors.encode(qhash, position)
            )
    else:
        page_rows = list(reversed(result.rows)) if descending else list(result.rows)

    if op.kind == "relationship":
        data = [q.identifier(r) for r in page_rows]
    elif sim.render_cache_size and not ctx.include:
        data = _render_cached(sim, ctx, page_rows)
    else:
        data = [q.render(ctx, r) for r in page_rows]
    links: dict[str, Any] = {"self": self_link}
    if next_link is not None:
        # The spec's CollectionLinks has non-nullable next/prev: absent on the last page.
        links["next"] = next_link
    elif real:
        # Klaviyo sends them as null on the last page (reality.LAST_PAGE_NULL_LINKS).
        links.update(dict.fromkeys(reality.LAST_PAGE_NULL_MEMBERS))
    document = {"data": data, "links": links}
    if ctx.include and op.kind != "relationship":
        document["included"] = q.included(ctx, page_rows)
    return document


def _shown(
    sim: KlaviyoSimulator,
    op: Operation,
    conditions: list[Condition],
    sort_field: str | None,
    descending: bool,
    result: q.ResultSet,
) -> Callable[[int], int] | None:
    """Where each position of the order shows its row, for queries Klaviyo answers unsorted."""
    terms = [(c.operator, c.field, c.value) for c in conditions if c.has_value]
    rule = reality.unsorted_rule(op.operation_id, sort_field, descending, terms)
    if rule is None:
        return None
    rows = result.rows
    count = len(rows)

    def flags(i: int) -> bool:
        return reality.flagged(rule, rows[i][0]["id"])

    return lambda i: reality.partner(flags, i, count)


def _render_cached(
    sim: KlaviyoSimulator, ctx: q.RenderContext, rows: list[q.Row]
) -> list[dict[str, Any]]:
    view = (
        sim.data.generation,
        ctx.base_url,
        tuple(sorted((k, tuple(sorted(v))) for k, v in ctx.additional.items())),
        tuple(sorted((k, tuple(v)) for k, v in ctx.fields.items())),
        ctx.includable,
        ctx.reality,
        ctx.operation_id,
    )
    out = []
    for row in rows:
        resource, joined = row
        key = (view, resource["type"], resource["id"], joined)
        rendered = sim.rendered.get(key)
        if rendered is None:
            if len(sim.rendered) >= sim.render_cache_size:
                sim.rendered.clear()
            rendered = sim.rendered[key] = q.render(ctx, row)
        out.append(rendered)
    return out


def cursor_link(base_url: str, raw_path: str, raw_query: str, op: Operation, cursor: str) -> str:
    """The request's own query string, unchanged, with the cursor replaced."""
    name = op.cursor_param or "page[cursor]"
    kept = [
        part
        for part in raw_query.split("&")
        if part and unquote(part.split("=", 1)[0].replace("+", " ")) != name
    ]
    encoded = name.replace("[", "%5B").replace("]", "%5D")
    kept.append(f"{encoded}={cursor}")
    return f"{base_url}{raw_path}?{'&'.join(kept)}"
