"""reviews: incremental on `updated`, which the endpoint sorts on but cannot filter on."""

from __future__ import annotations

from typing import Any

from tap_klaviyo.dates import parse_datetime, utc_iso
from tests.conftest import run_tap


def test_every_review_once_in_updated_order(sim: Any, config: dict[str, Any]) -> None:
    run = run_tap(config, streams=["reviews"])
    reviews = {r["id"]: r for r in sim.data.get("review")}
    emitted = run.ids("reviews")
    assert len(emitted) == len(set(emitted)) and set(emitted) == set(reviews)
    stamps = [r["updated"] for r in run.records["reviews"]]
    assert stamps == sorted(stamps)
    for record in run.records["reviews"]:
        ((_, item),) = sim.data.targets("review", record["id"], "item")
        assert record["item_id"] == item
        assert record["status"] == reviews[record["id"]]["attributes"]["status"]
    newest = max(utc_iso(parse_datetime(r["attributes"]["updated"])) for r in reviews.values())
    assert run.state["bookmarks"]["reviews"]["replication_key_value"] == newest
    (sent,) = [r for r in sim.requests if r.path == "/api/reviews"]
    assert sent.query["sort"] == ["updated"]
    assert "filter" not in sent.query, "reviews cannot be filtered on `updated`"


def test_a_moderated_review_comes_again_though_it_was_created_long_ago(
    sim: Any, config: dict[str, Any]
) -> None:
    first = run_tap(config, streams=["reviews"])
    oldest = min(sim.data.get("review"), key=lambda r: r["attributes"]["created"])
    sim.data.advance(60)
    sim.data.update("review", oldest["id"], status={"value": "published"})
    second = run_tap(config, streams=["reviews"], state=first.state)
    bookmark = first.state["bookmarks"]["reviews"]["replication_key_value"]
    *boundary, moderated = second.records["reviews"]
    assert moderated["id"] == oldest["id"]
    assert moderated["status"] == {"value": "published"}
    # The inclusive lower bound reads the records at the old bookmark again, nothing older.
    assert boundary and all(r["updated"] == bookmark for r in boundary)
    assert second.state["bookmarks"]["reviews"]["replication_key_value"] == utc_iso(sim.data.now())
