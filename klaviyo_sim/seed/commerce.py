"""Coupons with their codes, the catalog (items, variants, categories) and reviews."""

from __future__ import annotations

import string
from datetime import timedelta
from typing import Any

from ..data import iso
from .base import SeedBase, hex_id, instant, spread


class CommerceSeed(SeedBase):
    """Coupons, coupon codes, catalog items, variants, categories and reviews."""

    def coupons(self) -> None:
        rng = self.rng
        specs = [
            ("WELCOME10", "10% off your first order", {"low_balance_threshold": 500}, 15),
            ("FREESHIP", None, None, 8),
            ("VIP-25", "25% für VIPs 💎", {"low_balance_threshold": 10}, 2),
        ]
        statuses = ["UNASSIGNED", "ASSIGNED_TO_PROFILE", "USED", "PROCESSING", "VERSION_NOT_ACTIVE"]
        codes: dict[str, list[str]] = {}
        for coupon_id, description, monitor, count in specs:
            self.add(
                "coupon",
                coupon_id,
                {
                    "external_id": coupon_id,
                    "description": description,
                    "monitor_configuration": monitor,
                },
            )
            codes[coupon_id] = []
            for n in range(count):
                unique = "".join(
                    rng.choice(string.ascii_uppercase + string.digits) for _ in range(12)
                )
                rid = f"{coupon_id}-{unique}"
                codes[coupon_id].append(rid)
                status = statuses[n % len(statuses)]
                relationships: dict[str, Any] = {
                    "coupon": {"data": {"type": "coupon", "id": coupon_id}}
                }
                if status in ("ASSIGNED_TO_PROFILE", "USED"):
                    profile = self.profile_ids[(n * 7) % len(self.profile_ids)]
                    relationships["profile"] = {"data": {"type": "profile", "id": profile}}
                expires = None
                if n % 3 == 1:
                    expires = iso(instant("2025-12-31T23:59:59+00:00") + timedelta(days=30 * n))
                self.add(
                    "coupon-code",
                    rid,
                    {"unique_code": unique, "expires_at": expires, "status": status},
                    relationships=relationships,
                )
        self.notes["coupon_codes"] = codes

    def catalog(self) -> None:
        rng = self.rng
        categories = []
        for key, name in (
            ("APPAREL", "Apparel"),
            ("COFFEE", "Café ☕"),
            ("SALE", "Sale"),
            ("EMPTY", "Empty category"),
        ):
            rid = f"$custom:::$default:::CAT-{key}"
            categories.append(rid)
            self.add(
                "catalog-category",
                rid,
                {"external_id": f"CAT-{key}", "name": name, "updated": "2025-03-01T10:00:00+00:00"},
            )
        made = spread(rng, "2024-01-01T00:00:00+00:00", "2026-09-01T00:00:00+00:00", 10)
        titles = ["Ocean Blue Shirt", "Café Crème ☕", "Espresso Beans", "Hoodie", "Socks"]
        item_ids = []
        variant_count = 0
        for i in range(10):
            rid = f"$custom:::$default:::SKU-{i + 1}"
            item_ids.append(rid)
            self.add(
                "catalog-item",
                rid,
                {
                    "external_id": f"SKU-{i + 1}",
                    "title": f"{titles[i % len(titles)]} #{i + 1}",
                    "description": "Ocean blue cotton shirt 👕" if i % 2 == 0 else "",
                    "price": None if i == 9 else round(9.99 + i * 3.5, 2),
                    "url": f"https://sim-store.example/products/{i + 1}",
                    "image_full_url": f"https://images.example.com/p/{i + 1}.jpg",
                    "image_thumbnail_url": f"https://images.example.com/p/{i + 1}-t.jpg",
                    "images": [f"https://images.example.com/p/{i + 1}-{n}.jpg" for n in range(2)],
                    "custom_metadata": {"Top Pick": True} if i % 3 == 0 else {},
                    "published": i != 7,
                    "created": iso(made[i]),
                    "updated": iso(made[i] + timedelta(days=i)),
                },
            )
            for category in (categories[0], categories[1], categories[2])[: 1 + i % 3]:
                self.data.link("catalog-item", rid, "categories", category)
            for size in ("S", "M"):
                variant_count += 1
                vid = f"{rid}-{size}"
                self.add(
                    "catalog-variant",
                    vid,
                    {
                        "external_id": f"SKU-{i + 1}-{size}",
                        "title": f"{titles[i % len(titles)]} #{i + 1} ({size})",
                        "description": "",
                        "sku": f"SKU-{i + 1}-{size}",
                        "inventory_policy": [0, 1, 2][i % 3],
                        "inventory_quantity": 0 if size == "S" and i % 4 == 0 else 25 + i,
                        "price": round(9.99 + i * 3.5, 2),
                        "url": f"https://sim-store.example/products/{i + 1}?size={size}",
                        "image_full_url": f"https://images.example.com/p/{i + 1}.jpg",
                        "image_thumbnail_url": f"https://images.example.com/p/{i + 1}-t.jpg",
                        "images": [],
                        "custom_metadata": None,
                        "published": True,
                        "created": iso(made[i]),
                        "updated": iso(made[i] + timedelta(days=i, hours=1)),
                    },
                    relationships={"item": {"data": {"type": "catalog-item", "id": rid}}},
                )
        self.item_ids = item_ids
        self.notes["catalog"] = {"items": item_ids, "categories": categories}

    def reviews(self) -> None:
        rng = self.rng
        made = spread(rng, "2025-01-01T00:00:00+00:00", "2026-11-01T00:00:00+00:00", 6)
        statuses: list[dict[str, Any] | None] = [
            {"value": "published"},
            {"value": "featured"},
            {"value": "pending"},
            {"value": "rejected", "rejection_reason": {"reason": "fake"}},
            {"value": "unpublished"},
            None,
        ]
        for i in range(6):
            question = i == 4
            self.add(
                "review",
                hex_id(rng),
                {
                    "email": None if i == 2 else f"reviewer{i}@example.com",
                    "status": statuses[i],
                    "verified": i % 2 == 0,
                    "review_type": "question" if question else ["review", "rating", "store"][i % 3],
                    "created": iso(made[i]),
                    "updated": iso(made[i] + timedelta(hours=3)),
                    "images": [] if i % 2 else [f"https://images.example.com/r/{i}.jpg"],
                    "product": None
                    if i == 5
                    else {
                        "url": f"https://sim-store.example/products/{i + 1}",
                        "name": f"Product {i + 1}",
                        "image_url": None,
                        "external_id": f"SKU-{i + 1}",
                    },
                    "rating": None if question else 1 + i % 5,
                    "author": ["John D", "Zoë", None, "李", "Ana", "Ü"][i],
                    "content": "Great product! Smells like crème brûlée 🍮",
                    "title": None if i == 3 else "Would recommend",
                    "smart_quote": None,
                    "public_reply": {
                        "content": "Thanks for the review!",
                        "author": "Sim Störe",
                        "updated": iso(made[i] + timedelta(days=1)),
                    }
                    if i == 0
                    else None,
                },
                relationships={"item": {"data": {"type": "catalog-item", "id": self.item_ids[i]}}},
            )
