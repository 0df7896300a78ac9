"""Catalog items, variants, categories and which items are in which category."""

from __future__ import annotations

from tap_klaviyo.client import KlaviyoChildStream, KlaviyoStream
from tap_klaviyo.pairs import RelatedIdsStream


class CatalogItemsStream(KlaviyoStream):
    # Full table: the endpoint neither filters nor sorts on `updated` (the column is kept).
    name = "catalog_items"
    path = "/api/catalog-items"
    child_key = "item_id"


class CatalogVariantsStream(KlaviyoStream):
    """Klaviyo sends each variant's `item` relationship as links only (no `data`), so
    `item_id` is empty on real data: `catalog_item_variants` pairs them."""

    name = "catalog_variants"
    path = "/api/catalog-variants"


class CatalogItemVariantsStream(RelatedIdsStream):
    """(item, variant) pairs from the items' `include=variants`: no request of its own."""

    name = "catalog_item_variants"
    parent_stream_type = CatalogItemsStream
    parent_key = "item_id"
    relationship = "variants"


class CatalogCategoriesStream(KlaviyoStream):
    name = "catalog_categories"
    path = "/api/catalog-categories"
    child_key = "category_id"


class CatalogItemCategoriesStream(KlaviyoChildStream):
    """(item, category) pairs, read per category from its item-id relationship endpoint.

    catalog-items cannot `include` their categories, so the pairs take requests of
    their own. Per item (`/api/catalog-items/{id}/relationships/categories`) and per
    category (`/api/catalog-categories/{id}/relationships/items`) have the same limits
    (350/s burst, 3,500/min) and the same 100 ids a page, so the cost is the number of
    parents: per category it is one request per category plus one per further 100
    items in it, against at least one per item. Shops have far fewer categories than
    items, so the pairs are read per category.
    """

    name = "catalog_item_categories"
    path = "/api/catalog-categories/{category_id}/relationships/items"
    parent_stream_type = CatalogCategoriesStream
    parent_key = "category_id"
    id_field = "item_id"
    primary_keys = ("item_id", "category_id")
