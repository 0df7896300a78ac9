"""catalog items, variants, categories and the item-category pairs."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import run_tap

CATALOG_STREAMS = [
    "catalog_items",
    "catalog_variants",
    "catalog_item_variants",
    "catalog_categories",
    "catalog_item_categories",
]


def assert_ids_once(run: Any, stream: str, expected: list[str]) -> None:
    emitted = run.ids(stream)
    assert len(emitted) == len(set(emitted)), f"{stream}: a record was emitted twice"
    assert set(emitted) == set(expected), stream


@pytest.mark.parametrize("workers", [1, 4])
def test_items_variants_categories_and_their_pairs(
    sim: Any, config: dict[str, Any], workers: int
) -> None:
    run = run_tap({**config, "max_workers": workers}, streams=CATALOG_STREAMS)
    items = {i["id"]: i for i in sim.data.get("catalog-item")}
    assert_ids_once(run, "catalog_items", list(items))
    for record in run.records["catalog_items"]:
        # Full table, but Klaviyo's `updated` stays in the record.
        assert record["updated"] == items[record["id"]]["attributes"]["updated"]
    assert_ids_once(run, "catalog_variants", sim.data.ids("catalog-variant"))
    # Klaviyo sends a variant's `item` as links only (klaviyo_sim README, reality layer):
    # the column stays empty, and the pair table says which item a variant belongs to.
    assert {record.get("item_id") for record in run.records["catalog_variants"]} == {None}
    variants = {
        (item, variant)
        for variant in sim.data.ids("catalog-variant")
        for _, item in sim.data.targets("catalog-variant", variant, "item")
    }
    assert len(variants) == len(sim.data.ids("catalog-variant"))
    variant_pairs = [(r["item_id"], r["variant_id"]) for r in run.records["catalog_item_variants"]]
    assert len(variant_pairs) == len(set(variant_pairs)) and set(variant_pairs) == variants
    # The pairs cost no request of their own: the items' pages include them.
    item_pages = [r for r in sim.requests if r.path == "/api/catalog-items"]
    assert item_pages and all(r.query.get("include") == ["variants"] for r in item_pages)
    assert not [
        r
        for r in sim.requests
        if "/variants" in r.path or ("/relationships/" in r.path and "/catalog-items/" in r.path)
    ]
    assert_ids_once(run, "catalog_categories", sim.data.ids("catalog-category"))

    expected = {
        (item, category)
        for item in items
        for _, category in sim.data.targets("catalog-item", item, "categories")
    }
    pairs = [(r["item_id"], r["category_id"]) for r in run.records["catalog_item_categories"]]
    assert len(pairs) == len(set(pairs)) and set(pairs) == expected
    assert {c for _, c in expected} < set(sim.data.ids("catalog-category")), (
        "the seed has a category without items"
    )
    for stream in CATALOG_STREAMS:
        assert "replication_key_value" not in str(run.state["bookmarks"].get(stream, {}))


def test_pairs_cost_one_request_per_category_not_per_item(sim: Any, config: dict[str, Any]) -> None:
    run_tap(config, streams=["catalog_item_categories"])
    per_category = [r for r in sim.requests if r.path.endswith("/relationships/items")]
    assert len(per_category) == len(sim.data.ids("catalog-category"))
    assert len(per_category) < len(sim.data.ids("catalog-item"))
    assert not [r for r in sim.requests if r.path.startswith("/api/catalog-items")]
