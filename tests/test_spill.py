"""Pages read ahead: held in memory up to a budget, on disk beyond it, and given back
byte for byte."""

from __future__ import annotations

import gc
import os
import weakref
from concurrent.futures import Future

import pytest
import requests

from tap_klaviyo.read.spill import Holding, PageFile, SpilledPage


def page(body: bytes, url: str = "https://a.klaviyo.com/api/events") -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response.url = url
    response._content = body
    return response


def test_pages_stay_in_memory_up_to_the_budget_and_go_to_disk_beyond_it() -> None:
    holding = Holding(budget=250)
    file = PageFile()
    first, second = page(b"a" * 100), page(b"b" * 100)
    assert holding.keep(first, file) is first
    assert holding.keep(second, file) is second
    assert holding.held == 200
    third = holding.keep(page(b'{"data": [3]}' * 10, "https://a.klaviyo.com/api/events?n=3"), file)
    fourth = holding.keep(page(b"d" * 70), file)
    assert isinstance(third, SpilledPage) and isinstance(fourth, SpilledPage)
    assert (holding.held, holding.spilled) == (200, 2)
    # What the reader uses of a page is the same from disk, in any order.
    assert fourth.content == b"d" * 70
    assert third.content == b'{"data": [3]}' * 10
    assert third.url == "https://a.klaviyo.com/api/events?n=3"
    file.close()


def test_a_page_taken_frees_its_share_of_the_budget() -> None:
    holding = Holding(budget=150)
    file = PageFile()
    first = holding.keep(page(b"a" * 100), file)
    spilled = holding.keep(page(b"b" * 100), file)
    holding.release(first)
    holding.release(spilled)  # its bytes were never counted
    assert holding.held == 0
    assert holding.keep(page(b"c" * 100), file).content == b"c" * 100
    assert (holding.held, holding.spilled) == (100, 1)
    file.close()


def test_a_pieces_file_leaves_nothing_behind(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    file = PageFile()
    spilled = Holding(budget=0).keep(page(b"x" * 10), file)
    # Unlinked from the start: a killed run leaves no file in the temporary directory.
    assert os.listdir(tmp_path) == []
    assert spilled.content == b"x" * 10
    file.close()


def test_a_page_file_let_go_takes_no_more_pages() -> None:
    file = PageFile()
    kept = file.add("https://a.klaviyo.com/api/events", b"x" * 10)
    assert kept.content == b"x" * 10
    file.close()
    # A task still reading for a piece nobody reads any more ends at its next page.
    with pytest.raises(OSError, match="let go"):
        file.add("https://a.klaviyo.com/api/events", b"y" * 10)


class Lines:
    """Renders that come back when the test says, each ``len(body) // 2`` bytes long."""

    def __init__(self) -> None:
        self.futures: list[Future[bytes]] = []

    def ahead(self, response: requests.Response, *bounds: object) -> Future[bytes]:
        future: Future[bytes] = Future()
        future.body = response.content  # type: ignore[attr-defined]
        self.futures.append(future)
        return future

    def finish(self, n: int) -> None:
        future = self.futures[n]
        future.set_result(future.body[: len(future.body) // 2])  # type: ignore[attr-defined]

    @staticmethod
    def size(rendered: bytes) -> int:
        return len(rendered)


def test_a_page_rendered_ahead_counts_at_its_renders_size_until_taken() -> None:
    holding, renders, file = Holding(budget=250), Lines(), PageFile()
    first = holding.render(renders, holding.keep(page(b"a" * 100), file), None, None, None)
    second = holding.render(renders, holding.keep(page(b"b" * 100), file), None, None, None)
    assert holding.held == 200  # bodies' size while their renders are under way
    renders.finish(0)
    assert holding.held == 150  # the first came back at half its body
    # So a page that would have gone to disk fits.
    third = holding.keep(page(b"c" * 100), file)
    assert not isinstance(third, SpilledPage) and holding.held == 250
    holding.release(first)
    holding.release(second)
    renders.finish(1)  # back after the reader took it: nothing left to count
    holding.release(third)
    assert holding.held == 0 and holding.spilled == 0
    file.close()


def test_a_page_rendered_ahead_is_freed_as_soon_as_it_is_let_go() -> None:
    # Freed by reference counting, not left in a cycle with its future for the cyclic
    # collector (which a run rarely calls): each page holds a render of up to a megabyte.
    holding, renders, file = Holding(budget=250), Lines(), PageFile()
    gc.disable()
    try:
        held = holding.render(renders, holding.keep(page(b"a" * 100), file), None, None)
        renders.finish(0)
        gone = weakref.ref(held)
        holding.release(held)
        renders.futures.clear()
        del held
        assert gone() is None
    finally:
        gc.enable()
        file.close()
