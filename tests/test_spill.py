"""Pages read ahead: held in memory up to a budget, on disk beyond it, and given back
byte for byte."""

from __future__ import annotations

import os

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
