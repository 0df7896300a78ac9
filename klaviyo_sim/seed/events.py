"""Metrics with their properties, and events of those metrics by the profiles."""

from __future__ import annotations

from bisect import bisect_right
from datetime import timedelta
from typing import Any

from ..data import iso
from .base import (
    BIG_INT,
    EVENT_DATETIME_TIE,
    EVENT_DATETIME_TIE_2,
    SeedBase,
    hex_id,
    instant,
    random_uuid,
    short_id,
    spread,
)


class EventSeed(SeedBase):
    """Metrics, metric properties and events."""

    def metrics(self) -> list[str]:
        shopify = {"object": "integration", "id": "0eMvjm", "key": "shopify", "name": "Shopify"}
        shopify["category"] = "eCommerce"
        klaviyo = {"object": "integration", "id": "0rG4eQ", "key": "klaviyo", "name": "Klaviyo"}
        klaviyo["category"] = "Internal"
        api = {
            "object": "integration",
            "id": "7FtS4J",
            "key": "api",
            "name": "API",
            "category": "API",
        }
        specs = [
            ("Placed Order", shopify),
            ("Opened Email", klaviyo),
            ("Clicked Email", klaviyo),
            ("Viewed Product", shopify),
            ("Active on Site", api),
            ("Received SMS", klaviyo),
            ("Subscribed to List", klaviyo),
            ("Überraschung 🎁", None),
        ]
        ids = []
        for i, (name, integration) in enumerate(specs):
            made = instant("2023-01-02T00:00:00+00:00") + timedelta(days=31 * i, seconds=i)
            rid = short_id(self.rng)
            ids.append(rid)
            self.add(
                "metric",
                rid,
                {
                    "name": name,
                    "created": iso(made),
                    "updated": iso(made + timedelta(days=400)),
                    "integration": integration,
                },
            )
        props = {
            0: [
                ("$value", "Number", [12.5, 99]),
                ("Items", "List", ["a"]),
                ("Coupon", "String", []),
            ],
            1: [("Subject", "String", ["Hi 👋"]), ("machine_open", "Boolean", [True, False])],
            2: [("URL", "String", ["https://example.com"])],
            3: [("ProductID", "Number", [123]), ("ProductName", "String", ["Café Crème"])],
        }
        for index, entries in props.items():
            for label, kind, samples in entries:
                self.add(
                    "metric-property",
                    hex_id(self.rng),
                    {
                        "label": label,
                        "property": label,
                        "inferred_type": kind,
                        "sample_values": samples or None,
                    },
                    relationships={"metric": {"data": {"type": "metric", "id": ids[index]}}},
                )
        self.metric_ids = ids
        return ids

    def events(self) -> None:
        rng = self.rng
        times = (
            spread(rng, "2024-01-02T00:00:00+00:00", "2024-09-30T12:00:00+00:00", 97)
            + [instant(EVENT_DATETIME_TIE_2)] * 7
            + spread(rng, "2024-10-01T00:00:00+00:00", "2025-05-31T00:00:00+00:00", 90)
            + [instant(EVENT_DATETIME_TIE)] * 12
            + spread(rng, "2025-06-02T00:00:00+00:00", "2026-11-19T23:00:00+00:00", 94)
        )
        created = self.profile_created
        last_event: dict[str, str] = {}
        rows = []
        for i, when in enumerate(times):
            # Profiles only do things after they exist.
            upto = max(1, bisect_right(created, when))
            profile_id = self.profile_ids[rng.randrange(upto)]
            metric_index = rng.randrange(len(self.metric_ids))
            rid = short_id(rng, 12)
            stamp = iso(when)
            rows.append((rid, stamp))
            last_event[profile_id] = max(last_event.get(profile_id, ""), stamp)
            self.add(
                "event",
                rid,
                {
                    "timestamp": int(when.timestamp()),
                    "event_properties": self._event_properties(metric_index, i),
                    "datetime": stamp,
                    "uuid": random_uuid(rng),
                },
                relationships={
                    "profile": {"data": {"type": "profile", "id": profile_id}},
                    "metric": {"data": {"type": "metric", "id": self.metric_ids[metric_index]}},
                },
            )
        for profile_id, stamp in last_event.items():
            stored = self.data.stored_one("profile", profile_id)
            if stored is not None:
                stored["attributes"]["last_event_date"] = stamp
        rows.sort(key=lambda r: (r[1], r[0]))
        self.notes["event_datetime_tie"] = {
            "datetime": EVENT_DATETIME_TIE,
            "ids": [r for r, s in rows if s == EVENT_DATETIME_TIE],
            "positions": (194, 205),
        }
        self.notes["event_datetime_tie_2"] = {
            "datetime": EVENT_DATETIME_TIE_2,
            "ids": [r for r, s in rows if s == EVENT_DATETIME_TIE_2],
            "positions": (97, 103),
        }

    def _event_properties(self, metric_index: int, i: int) -> dict[str, Any]:
        if metric_index == 0:
            props: dict[str, Any] = {
                "$value": round(5 + (i * 7.31) % 400, 2),
                "OrderId": f"#{1000 + i}",
                "ItemNames": ["Café Crème ☕", "T-Shirt"],
                "Items": [
                    {"ProductID": 100 + i % 10, "SKU": f"SKU-{i % 10}", "Quantity": 1},
                    {"ProductID": 7, "SKU": "SKU-7", "Quantity": 2, "ItemPrice": 9.99},
                ],
                "Discount Codes": [],
                "Coupon": None,
                "$extra": {"shipping": {"method": "UPS", "cost": 0}},
            }
            if i % 4 == 0:
                props["$extra"]["order_number_big"] = BIG_INT + i
            return props
        if metric_index == 1:
            return {
                "Subject": "Welcome 👋",
                "Campaign Name": "Spring Sale 🌸",
                "Email Domain": "example.com",
                "Client Name": None,
                "machine_open": i % 2 == 0,
                "$ESP": 1,
            }
        if metric_index == 2:
            return {"URL": f"https://example.com/?q=ü&i={i}", "Subject": "Welcome 👋"}
        if metric_index == 3:
            return {"ProductName": "Café Crème", "ProductID": 123, "Price": 4.5, "Categories": []}
        if metric_index == 4:
            return {"page": "/", "$is_session_activity": True, "os": "Mac OS X"}
        if metric_index == 5:
            return {"Message Body": "Hi 🎉 reply STOP to opt out", "$value": None}
        if metric_index == 6:
            return {"List": "Newsletter", "$list": "ignored"}
        return {
            "big_int": 2**64 + i * 7919,
            "negative_big": -(2**70),
            "nested": {"deep": {"deeper": {"deepest": [1, {"x": None}]}}},
            "ünïcødé": "✓",
            "empty_object": {},
            "empty_list": [],
        }
