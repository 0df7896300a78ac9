"""A page's keys and next link, read in one pass over its body without building it.

A time slice's worker needs only where its page's records are (their replication
key) and where the next page is; the records themselves are decoded later, in a
render process or by the reader.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Annotated, Any

import msgspec


class _Links(msgspec.Struct, gc=False):
    next: str | None = None


@functools.cache
def _page_decoder(key: str, typed: bool) -> msgspec.json.Decoder:
    """Reads a page's ``links.next`` and each resource's ``key``, skipping the rest.

    ``typed``: strict and fast, for the pages of every healthy run: each resource's
    attributes hold the key as a date-time with its offset, read by msgspec with no
    per-record work in Python (checking and zoning each key there was more than half
    of reading a page's keys).
    Otherwise any value, in the attributes where a JSON:API record keeps it or beside
    them in an already flat record."""
    if typed:
        moment = Annotated[datetime, msgspec.Meta(tz=True)]
        attributes = msgspec.defstruct(
            "MomentAttributes", [("value", moment)], rename={"value": key}, gc=False
        )
        resource = msgspec.defstruct("MomentResource", [("attributes", attributes)], gc=False)
    else:
        value = Any | msgspec.UnsetType
        attributes = msgspec.defstruct(
            "KeyAttributes", [("value", value, msgspec.UNSET)], rename={"value": key}, gc=False
        )
        resource = msgspec.defstruct(
            "KeyResource",
            [("attributes", attributes | None, None), ("value", value, msgspec.UNSET)],
            rename={"value": key},
            gc=False,
        )
    page = msgspec.defstruct(
        "KeyPage",
        [("data", list[resource] | None, None), ("links", _Links | None, None)],
        gc=False,
    )
    return msgspec.json.Decoder(page)


def _key_of(resource: Any) -> Any:
    attributes = resource.attributes
    if attributes is not None and attributes.value is not msgspec.UNSET:
        return attributes.value
    return None if resource.value is msgspec.UNSET else resource.value


def read_keys(key: str, typed: bool, content: bytes) -> tuple[list[Any], str | None] | None:
    """The page's ``key`` values and its next page's link, or None for a body that is
    not a page of resources (or, ``typed``, holds a key that is not a date-time with
    an offset in its resource's attributes)."""
    try:
        page = _page_decoder(key, typed).decode(content)
    except msgspec.DecodeError:  # ValidationError included
        return None
    if page.data is None:
        return None
    link = (page.links.next if page.links else None) or None
    if typed:
        return [resource.attributes.value for resource in page.data], link
    return [_key_of(resource) for resource in page.data], link
