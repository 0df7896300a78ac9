"""Report pagination: a cursor holds an offset into the results, HMAC-bound to the operation
and the body (without its cursor), so a cursor only works with the body it came from."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ..query import CursorError, Cursors
from .body import BodyError

DEFAULT_PAGE_SIZE = 500


def body_hash(operation_id: str, attributes: dict[str, Any]) -> str:
    """What a cursor is bound to: the operation and the body without its cursor."""
    relevant = {k: v for k, v in attributes.items() if k != "page_cursor"}
    blob = json.dumps([operation_id, relevant], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def encode_offset(cursors: Cursors, query_hash: str, offset: int) -> str:
    return cursors.encode(query_hash, ((0, offset), ""))


def decode_offset(
    cursors: Cursors,
    query_hash: str,
    cursor: str,
    *,
    pointer: str | None = None,
    parameter: str | None = None,
) -> int:
    try:
        (_, offset), _ = cursors.decode(query_hash, cursor)
    except (CursorError, ValueError, TypeError) as exc:
        detail = str(exc) if isinstance(exc, CursorError) else "Invalid page cursor."
        raise BodyError(detail, pointer, parameter) from None
    if not isinstance(offset, int) or offset < 0:
        raise BodyError("Invalid page cursor.", pointer, parameter)
    return offset
