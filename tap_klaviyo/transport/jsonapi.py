"""Klaviyo's JSON:API documents: decoding pages, flattening resources into records,
reading ``links.next`` and error bodies."""

from __future__ import annotations

import decimal
import functools
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import msgspec
import requests

from tap_klaviyo.errors import KlaviyoError

# msgspec keeps integers past 64 bits exact (orjson turns them into floats), and
# decimals keep every digit Klaviyo sent.
json_decoder = msgspec.json.Decoder(float_hook=decimal.Decimal)


def snake(name: str) -> str:
    return name.replace("-", "_")


@functools.cache
def relationship_column(name: str) -> str:
    """The column of a to-one relationship's id: ``tag-group`` -> ``tag_group_id``."""
    return f"{snake(name)}_id"


class Ref(msgspec.Struct, gc=False):
    id: Any = None


class Relationship(msgspec.Struct, gc=False):
    data: Ref | list[Ref] | None = None


class Resource(msgspec.Struct, gc=False):
    """A JSON:API resource as the tap reads it: its links are never built."""

    type: Any = None
    id: Any = None
    attributes: Any = None
    relationships: dict[str, Relationship] | None = None


class _Links(msgspec.Struct, gc=False):
    next: str | None = None


class _Envelope(msgspec.Struct, gc=False):
    links: _Links | None = None


class Document(msgspec.Struct, gc=False):
    data: list[Resource] | Resource | None = None
    links: _Links | None = None
    included: list[Resource] | None = None


# Decoding into these types skips every `links` object of every resource, most of
# a page's bytes, instead of building strings nobody reads; the garbage collector
# never tracks them (they cannot form cycles). Numbers decode as `json_decoder` does.
_document_decoder = msgspec.json.Decoder(Document, float_hook=decimal.Decimal)
# Reads only `links.next`, but still checks the whole body is well-formed JSON: the
# worker that fetched a page learns where the next one is without building the
# page's records, which wait as compact bytes until the reader gets to them.
_envelope_decoder = msgspec.json.Decoder(_Envelope)


def flatten_resource(resource: Resource, id_field: str = "id") -> dict[str, Any]:
    """A JSON:API resource as one flat record.

    ``id`` and the attributes sit at the top level, to-one relationships become
    ``<relationship>_id``; nested objects (``properties``, ``location``) stay objects.
    """
    record = {id_field: resource.id}
    attributes = resource.attributes
    if type(attributes) is dict:
        record.update(attributes)
    if resource.relationships:
        for name, body in resource.relationships.items():
            if type(body.data) is Ref:
                record.setdefault(relationship_column(name), body.data.id)
    return record


def related_ids(resource: Resource, names: Iterable[str]) -> dict[str, list[str]]:
    """Ids of to-many relationships, keyed ``<relationship>_ids``."""
    relationships = resource.relationships or {}
    result: dict[str, list[str]] = {}
    for name in names:
        body = relationships.get(name)
        if body is not None and isinstance(body.data, list):
            result[f"{snake(name)}_ids"] = [
                item.id for item in body.data if isinstance(item.id, str)
            ]
    return result


def decode_document(content: bytes) -> Document:
    """A page as typed resources; raises ValueError naming what is malformed."""
    try:
        return _document_decoder.decode(content)
    except msgspec.DecodeError as exc:  # ValidationError included
        raise ValueError(str(exc)) from None


def page_resources(content: bytes, url: str, stream: str) -> list[Resource]:
    """A page's resources; a body that is not a JSON:API document stops the stream."""
    return page_parts(content, url, stream)[0]


def page_parts(content: bytes, url: str, stream: str) -> tuple[list[Resource], list[Resource]]:
    """A page's resources and the resources ``include`` added to it."""
    where = urlsplit(url).path
    try:
        document = decode_document(content)
    except ValueError as exc:
        raise KlaviyoError(
            f"Stream '{stream}': response from {where} is not a JSON:API document ({exc})"
        ) from None
    data = document.data
    if data is None:
        raise KlaviyoError(f"Stream '{stream}': response from {where} has no `data`")
    return (data if isinstance(data, list) else [data]), document.included or []


def error_detail(response: requests.Response) -> tuple[str, set[str]]:
    """Klaviyo's own words for an error response, and the parameters it names."""
    try:
        errors = json_decoder.decode(response.content).get("errors") or []
    except (msgspec.DecodeError, AttributeError):
        errors = []
    parts, parameters = [], set()
    for error in errors if isinstance(errors, list) else []:
        if not isinstance(error, dict):
            continue
        text = str(error.get("detail") or error.get("title") or "")
        source = error.get("source") if isinstance(error.get("source"), dict) else {}
        where = source.get("parameter") or source.get("pointer")
        if where:
            parameters.add(str(where))
        parts.append(f"{text} (parameter: {where})" if where else text)
    detail = "; ".join(p for p in parts if p) or (response.reason or "no error detail")
    return " ".join(detail.split()), parameters


def next_link(response: requests.Response) -> str | None:
    """The body's ``links.next``; raises ValueError when the body is not a JSON object."""
    cached = getattr(response, "_klaviyo_next", False)
    if cached is False:
        parsed = getattr(response, "_klaviyo_json", None)
        if parsed is not None:
            cached = (parsed.get("links") or {}).get("next") or None
        else:
            try:
                envelope = _envelope_decoder.decode(response.content)
            except msgspec.DecodeError as exc:  # ValidationError included
                raise ValueError(str(exc)) from None
            cached = (envelope.links.next if envelope.links else None) or None
        response._klaviyo_next = cached  # type: ignore[attr-defined]
    return cached


def response_json(response: requests.Response) -> dict[str, Any]:
    """The parsed body, parsed once per response however many readers it has."""
    cached = getattr(response, "_klaviyo_json", None)
    if cached is None:
        try:
            cached = json_decoder.decode(response.content)
        except msgspec.DecodeError as exc:
            raise ValueError(str(exc)) from None
        if not isinstance(cached, dict):
            raise ValueError("response body is not a JSON object")
        response._klaviyo_json = cached  # type: ignore[attr-defined]
    return cached
