"""The one paging loop: send a request, yield its response, ask the paginator where
the next page is, build that request, until there is none. GET collections follow
``links.next``; report POSTs send the same body to theirs, or the cursor in the body."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable, Iterator
from typing import Any, TypeVar

import requests
from singer_sdk.pagination import BaseHATEOASPaginator

from tap_klaviyo.errors import KlaviyoError
from tap_klaviyo.transport.jsonapi import next_link

Token = TypeVar("Token", bound=Hashable)
Produce = Callable[[Callable[[Any], bool]], None]


def paginate(
    first: requests.PreparedRequest,
    send: Callable[[requests.PreparedRequest], requests.Response],
    next_token: Callable[[requests.Response], Token | None],
    request_for: Callable[[Token], requests.PreparedRequest],
    *,
    stream: str,
    max_pages: int | None = None,
    unit: str = "request",
) -> Iterator[requests.Response]:
    """Every response of one query; safe on any thread."""
    request = first
    seen: set[Hashable] = set()
    for _ in itertools.count() if max_pages is None else range(max_pages):
        response = send(request)
        yield response
        token = next_token(response)
        if token is None:
            return
        if token in seen:
            # A cursor that leads back to a page already read would loop for ever.
            raise KlaviyoError(
                f"Stream '{stream}': Klaviyo sent the same next page twice ({_shown(token)})."
            )
        seen.add(token)
        request = request_for(token)
    raise KlaviyoError(f"Stream '{stream}': more than {max_pages} pages for one {unit}.")


def feed_of(responses: Callable[[], Iterator[Any]], *extra: Any) -> Produce:
    """A producer for a feed (``feeds.py``): each response, with ``extra``, handed
    over in order until the reader walks away."""

    def produce(put: Callable[[Any], bool]) -> None:
        for response in responses():
            if not put((response, *extra)):
                return

    return produce


def _shown(token: Any) -> str:
    geturl = getattr(token, "geturl", None)
    return geturl() if callable(geturl) else str(token)


class KlaviyoPaginator(BaseHATEOASPaginator):
    """Follows ``links.next`` exactly as Klaviyo gives it; the cursor is opaque."""

    def get_next_url(self, response: requests.Response) -> str | None:
        return next_link(response)
