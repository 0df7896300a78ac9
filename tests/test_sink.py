"""Pages to Singer lines and state: the bookmark moves only past records written."""

from __future__ import annotations

from tap_klaviyo.tap import TapKlaviyo
from tap_klaviyo.write.sink import bookmark_rows


def test_a_page_moves_the_bookmark_through_its_first_and_last_record(tap: TapKlaviyo) -> None:
    # The first still meets the SDK's sort check, the last sets the bookmark; a page out
    # of order (or with a null key) goes record by record so the SDK judges each one.
    key = tap.streams["profiles"].replication_key
    ordered = [{"updated": f"2024-01-0{day}T00:00:00+00:00"} for day in (1, 2, 2, 3)]
    assert bookmark_rows(ordered, key) == [ordered[0], ordered[-1]]
    shuffled = [ordered[1], ordered[0], ordered[3]]
    assert bookmark_rows(shuffled, key) == shuffled
    with_null = [ordered[0], {"updated": None}, ordered[3]]
    assert bookmark_rows(with_null, key) == with_null
    assert bookmark_rows(ordered[:1], key) == ordered[:1]
