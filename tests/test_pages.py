"""The paging loop: links.next followed until there is none, loops and runaway
paging stopped with one line."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import pytest
import requests

from tap_klaviyo.errors import KlaviyoError
from tap_klaviyo.read.pages import KlaviyoPaginator, feed_of, paginate

BASE = "https://a.klaviyo.com/api/tags"


def page(url: str, next_url: str | None) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response.url = url
    response._content = msgspec.json.encode({"data": [{"id": url}], "links": {"next": next_url}})
    return response


class Server:
    """Answers each URL with a page linking to the URL ``links`` names."""

    def __init__(self, links: Callable[[str], str | None]) -> None:
        self.links = links
        self.sent: list[str] = []

    def send(self, request: requests.PreparedRequest) -> requests.Response:
        assert request.url is not None
        self.sent.append(request.url)
        return page(request.url, self.links(request.url))


def request_for(token: Any) -> requests.PreparedRequest:
    return requests.Request("GET", token.geturl()).prepare()


def read(server: Server, **kwargs: Any) -> list[str]:
    first = requests.Request("GET", BASE).prepare()
    responses = paginate(
        first,
        server.send,
        KlaviyoPaginator().get_next,
        request_for,
        stream="tags",
        **kwargs,
    )
    return [response.url for response in responses]


def cursor(number: int) -> str:
    return f"{BASE}?page%5Bcursor%5D=c{number}"


def test_paginate_follows_next_links_until_there_is_none() -> None:
    chain = {BASE: cursor(1), cursor(1): cursor(2), cursor(2): None}
    server = Server(chain.get)
    assert read(server) == [BASE, cursor(1), cursor(2)]
    assert server.sent == [BASE, cursor(1), cursor(2)]


def test_paginate_is_lazy() -> None:
    server = Server(lambda url: cursor(1))
    first = requests.Request("GET", BASE).prepare()
    responses = paginate(
        first, server.send, KlaviyoPaginator().get_next, request_for, stream="tags"
    )
    assert server.sent == []
    next(responses)
    assert server.sent == [BASE]


def test_the_same_next_page_twice_stops_the_stream() -> None:
    chain = {BASE: cursor(1), cursor(1): cursor(2), cursor(2): cursor(1)}
    server = Server(chain.get)
    with pytest.raises(KlaviyoError) as caught:
        read(server)
    assert str(caught.value) == (
        f"Stream 'tags': Klaviyo sent the same next page twice ({cursor(1)})."
    )
    # Each page was read once: the loop is caught before a page is read again.
    assert server.sent == [BASE, cursor(1), cursor(2)]


def test_more_pages_than_max_pages_stops_the_stream() -> None:
    numbers = iter(range(1, 100))
    server = Server(lambda url: cursor(next(numbers)))
    with pytest.raises(KlaviyoError) as caught:
        read(server, max_pages=3, unit="window")
    assert str(caught.value) == "Stream 'tags': more than 3 pages for one window."
    assert len(server.sent) == 3


def test_exactly_max_pages_is_fine() -> None:
    chain = {BASE: cursor(1), cursor(1): cursor(2), cursor(2): None}
    assert read(Server(chain.get), max_pages=3) == [BASE, cursor(1), cursor(2)]


def test_a_token_without_a_url_is_shown_as_it_is() -> None:
    tokens = iter(["abc", "abc"])
    responses = paginate(
        "first",  # type: ignore[arg-type]
        lambda request: request,  # type: ignore[arg-type,return-value]
        lambda response: next(tokens),
        lambda token: token,
        stream="metric_aggregates",
    )
    with pytest.raises(KlaviyoError, match=r"the same next page twice \(abc\)\.$"):
        list(responses)


def test_feed_of_hands_over_each_response_with_extras_until_the_reader_leaves() -> None:
    produced: list[int] = []

    def responses() -> Any:
        for number in range(10):
            produced.append(number)
            yield number

    taken: list[tuple[Any, ...]] = []

    def put(item: tuple[Any, ...]) -> bool:
        taken.append(item)
        return len(taken) < 3

    feed_of(responses, "start", "end")(put)
    assert taken == [(0, "start", "end"), (1, "start", "end"), (2, "start", "end")]
    # No response is fetched after the reader walked away.
    assert produced == [0, 1, 2]


def test_the_paginator_reads_links_next() -> None:
    paginator = KlaviyoPaginator()
    assert paginator.get_next_url(page(BASE, cursor(1))) == cursor(1)
    assert paginator.get_next_url(page(BASE, None)) is None
