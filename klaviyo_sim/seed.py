"""Deterministic seed data shaped like the spec's response schemas, awkward cases included.

Every awkward case is recorded in ``SimData.notes`` so tests can find it without hard-coding
ids (ids depend on the seed; positions and timestamps do not).
"""

from __future__ import annotations

import random
import string
import unicodedata
import uuid
from bisect import bisect_right
from datetime import datetime, timedelta
from typing import Any

from .data import SimData, iso

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ALNUM = string.ascii_letters + string.digits

# Identical timestamps placed across page boundaries (positions are 0-based in ascending order).
PROFILE_UPDATED_TIE = "2026-03-15T08:30:00+00:00"  # sort=updated positions 90-114 (25 profiles)
PROFILE_CREATED_TIE = "2024-02-29T00:00:00+00:00"  # sort=created positions 17-24 (8 profiles)
EVENT_DATETIME_TIE = "2025-06-01T12:00:00+00:00"  # sort=datetime positions 194-205 (12 events)
EVENT_DATETIME_TIE_2 = "2024-09-30T23:59:59+00:00"  # sort=datetime positions 97-103 (7 events)
LIST_JOINED_TIE = "2025-01-15T09:00:00+00:00"  # Newsletter members positions 17-22 (6)
SEGMENT_JOINED_TIE = "2025-02-01T00:00:00+00:00"  # first segment members positions 18-21 (4)
BIG_INT = 2**70 + 12345
PREDICTIVE_KEYS = (
    "historic_clv",
    "predicted_clv",
    "total_clv",
    "historic_number_of_orders",
    "predicted_number_of_orders",
    "average_days_between_orders",
    "average_order_value",
    "churn_probability",
    "expected_date_of_next_order",
    "ranked_channel_affinity",
)  # beyond 64 bits, inside free-form objects


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _ulid(rng: random.Random, when: datetime) -> str:
    millis = int(when.timestamp() * 1000)
    head = "".join(CROCKFORD[(millis >> (5 * i)) & 31] for i in reversed(range(10)))
    return head + "".join(rng.choice(CROCKFORD) for _ in range(16))


def _short(rng: random.Random, n: int = 6) -> str:
    return "".join(rng.choice(ALNUM) for _ in range(n))


def _hex(rng: random.Random, n: int = 32) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _spread(rng: random.Random, start: str, end: str, n: int) -> list[datetime]:
    """n distinct whole-second instants in [start, end], ascending."""
    lo, hi = _dt(start), _dt(end)
    span = int((hi - lo).total_seconds())
    picks = sorted(rng.sample(range(span + 1), n))
    return [lo + timedelta(seconds=s) for s in picks]


class _Builder:
    def __init__(self, data: SimData, seed: int) -> None:
        self.data = data
        self.rng = random.Random(seed)
        self.notes: dict[str, Any] = {}

    def add(self, kind: str, rid: str, attributes: dict[str, Any], **extra: Any) -> str:
        self.data.add(kind, {"type": kind, "id": rid, "attributes": attributes, **extra})
        return rid

    # -- resources ------------------------------------------------------------------------

    def account(self) -> None:
        self.add(
            "account",
            "SiMaCc",
            {
                "test_account": False,
                "contact_information": {
                    "default_sender_name": "Sim Störe",
                    "default_sender_email": "hello@sim-store.example",
                    "website_url": "https://sim-store.example",
                    "organization_name": "Sim Störe GmbH",
                    "street_address": {
                        "address1": "125 Summer Street",
                        "address2": None,
                        "city": "Boston",
                        "region": "MA",
                        "country": "US",
                        "zip": "02110",
                    },
                },
                "industry": None,
                "timezone": "US/Eastern",
                "preferred_currency": "USD",
                "public_api_key": "SiMaCc",
                "locale": "en-US",
            },
        )

    def profiles(self) -> list[str]:
        rng = self.rng
        created = (
            _spread(rng, "2023-01-05T00:00:00+00:00", "2024-02-20T00:00:00+00:00", 17)
            + [_dt(PROFILE_CREATED_TIE)] * 8
            + _spread(rng, "2024-03-01T00:00:00+00:00", "2026-03-10T00:00:00+00:00", 95)
        )
        order = list(range(120))
        rng.shuffle(order)
        tie, after = set(order[:25]), set(order[25:30])
        late = iter(_spread(rng, "2026-04-01T00:00:00+00:00", "2026-11-15T00:00:00+00:00", 5))
        tie_at = _dt(PROFILE_UPDATED_TIE)
        first = ["Sarah", "Zoë", "José", "Łukasz", "李", "Анна", "محمد", "🦄", "O'Brien", "Renée"]
        first += ["Søren", "Chloé", "Ngọc", "Björk", "Dmitri", "Aiyana", "Mary-Jane", "Jürgen"]
        last = ["Mason", "Müller", "García", "Nowak", "王", "Иванова", "Smith", "D'Angelo", None]
        cities = [
            ("New York", "NY", "United States", 40.7128, -74.006, "America/New_York", "10017"),
            ("München", "Bayern", "Germany", "48.1351", "11.5820", "Europe/Berlin", "80331"),
            ("São Paulo", "SP", "Brazil", -23.5505, -46.6333, "America/Sao_Paulo", "01000-000"),
            ("Boston", "MA", "United States", 42.3601, -71.0589, "America/New_York", "02134"),
            ("東京", None, "Japan", None, None, "Asia/Tokyo", None),
        ]
        ids: list[str] = []
        updated_of: dict[str, str] = {}
        for i, made in enumerate(created):
            rid = _ulid(rng, made)
            ids.append(rid)
            if i in tie:
                updated = tie_at
            elif i in after:
                updated = next(late)
            elif i % 9 == 0:
                updated = made  # never updated since creation
            else:
                room = (tie_at - timedelta(hours=1) - made).total_seconds()
                updated = made + timedelta(seconds=int(room * rng.random()))
            updated_of[rid] = iso(updated)
            fname = first[i % len(first)]
            lname = last[i % len(last)]
            has_email = i % 17 != 5
            city = cities[i % len(cities)]
            location = None
            if i % 4 != 3:
                location = {
                    "address1": f"{10 + i} Main St" if i % 3 else None,
                    "address2": "1st floor" if i % 5 == 0 else None,
                    "city": city[0],
                    "country": city[2],
                    "latitude": city[3],
                    "longitude": city[4],
                    "region": city[1],
                    "zip": city[6],
                    "timezone": city[5],
                    "ip": f"203.0.113.{i % 250}" if i % 2 else None,
                }
            properties: dict[str, Any] | None = {}
            if i % 6 == 1:
                properties = {
                    "pseudonym": "Dr. Octopus",
                    "loyalty": {"tier": "gold", "points": 1200 + i, "history": [1, 2, 3]},
                    "big_number": BIG_INT + i,
                    "negative_big": -(2**65) - i,
                    "emoji_key_🎉": "yes",
                    "null_value": None,
                    "tiny": 1.5e-7,
                    "opted_in": True,
                    "nested_list": [{"a": 1}, {"a": None}],
                }
            elif i % 6 == 4:
                properties = {"favourite": "crème brûlée", "Shoe Size": 42, "tags": ["a", "b"]}
            elif i % 23 == 7:
                properties = None
            suppressed = i % 11 == 3
            attributes = {
                "email": self._email(fname, i) if has_email else None,
                "phone_number": f"+1500555{i:04d}" if i % 3 == 0 or not has_email else None,
                "external_id": f"ext-{i:04d}" if i % 7 == 0 else None,
                "first_name": fname if i % 13 != 12 else None,
                "last_name": lname,
                "organization": "Ünïcorn Labs" if i % 8 == 2 else None,
                "locale": ["en-US", "de-DE", "pt-BR", None][i % 4],
                "title": "Regional Manager" if i % 10 == 0 else None,
                "image": f"https://images.example.com/{i}.jpeg" if i % 12 == 0 else None,
                "created": iso(made),
                "updated": iso(updated),
                "last_event_date": None,
                "location": location,
                "properties": properties,
                "subscriptions": self._subscriptions(i, made, suppressed),
                "predictive_analytics": self._predictive(i),
            }
            self.add("profile", rid, attributes)
        ordered = sorted(ids, key=lambda r: (updated_of[r], r))
        self.notes["profile_updated_tie"] = {
            "updated": PROFILE_UPDATED_TIE,
            "ids": [r for r in ordered if updated_of[r] == PROFILE_UPDATED_TIE],
            "positions": (90, 114),
        }
        self.notes["profile_created_tie"] = {
            "created": PROFILE_CREATED_TIE,
            "ids": sorted(ids[17:25]),
            "positions": (17, 24),
        }
        self.notes["profile_big_int_ids"] = [ids[i] for i in range(120) if i % 6 == 1]
        self.notes["profile_null_properties_ids"] = [
            ids[i] for i in range(120) if i % 23 == 7 and i % 6 not in (1, 4)
        ]
        self.profile_ids = ids
        self.profile_created = created
        return ids

    @staticmethod
    def _email(name: str, i: int) -> str:
        if i == 1:
            return f"{name.lower()}.{i}@example.com"  # one internationalised address
        ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
        slug = "".join(c for c in ascii_name.lower() if c.isalnum()) or "user"
        return f"{slug}.{i}@example.com"

    def _subscriptions(self, i: int, made: datetime, suppressed: bool) -> dict[str, Any]:
        stamp = iso(made + timedelta(minutes=5))
        consent = ["SUBSCRIBED", "UNSUBSCRIBED", "NEVER_SUBSCRIBED"][i % 3]
        return {
            "email": {
                "marketing": {
                    "can_receive_email_marketing": consent == "SUBSCRIBED" and not suppressed,
                    "consent": consent,
                    "consent_timestamp": stamp if consent != "NEVER_SUBSCRIBED" else None,
                    "last_updated": stamp,
                    "method": "PREFERENCE_PAGE" if consent == "SUBSCRIBED" else None,
                    "method_detail": "sim-store.example/signup" if i % 2 else None,
                    "custom_method_detail": None,
                    "double_optin": True if i % 5 == 0 else None,
                    "suppression": (
                        [{"reason": "HARD_BOUNCE", "timestamp": stamp}] if suppressed else []
                    ),
                    "list_suppressions": [],
                },
                "open_tracking": None,
            },
            "sms": {
                "marketing": {
                    "can_receive_sms_marketing": i % 3 == 0,
                    "consent": "SUBSCRIBED" if i % 3 == 0 else "NEVER_SUBSCRIBED",
                    "consent_timestamp": stamp if i % 3 == 0 else None,
                    "method": "TEXT" if i % 3 == 0 else None,
                    "method_detail": "JOIN" if i % 3 == 0 else None,
                    "last_updated": stamp,
                },
                "transactional": None,
            },
            "mobile_push": {
                "marketing": {
                    "can_receive_push_marketing": i < 5,
                    "consent": "SUBSCRIBED" if i < 5 else "NEVER_SUBSCRIBED",
                    "consent_timestamp": stamp if i < 5 else None,
                }
            },
            "whatsapp": None,
        }

    def _predictive(self, i: int) -> dict[str, Any]:
        if i % 5 == 4:
            return dict.fromkeys(PREDICTIVE_KEYS)
        return {
            "historic_clv": round(10 + i * 1.37, 2),
            "predicted_clv": round(5 + i * 0.41, 2),
            "total_clv": round(15 + i * 1.78, 2),
            "historic_number_of_orders": i % 7,
            "predicted_number_of_orders": round((i % 10) / 7, 2),
            "average_days_between_orders": 30 + i,
            "average_order_value": round(20 + i * 0.5, 2),
            "churn_probability": round((i % 100) / 100, 2),
            "expected_date_of_next_order": "2026-12-01T00:00:00+00:00" if i % 2 else None,
            "ranked_channel_affinity": ["email", "sms", "push"] if i % 3 else None,
        }

    def push_tokens(self) -> None:
        for i in range(5):
            made = _dt("2025-01-10T08:00:00+00:00") + timedelta(days=17 * i)
            rid = _ulid(self.rng, made)
            self.add(
                "push-token",
                rid,
                {
                    "created": iso(made),
                    "token": _hex(self.rng, 64),
                    "enablement_status": ["AUTHORIZED", "DENIED", "PROVISIONAL"][i % 3],
                    "platform": "ios" if i % 2 == 0 else "android",
                    "vendor": "apns" if i % 2 == 0 else "fcm",
                    "background": "AVAILABLE",
                    "recorded_date": iso(made),
                    "metadata": None
                    if i == 4
                    else {
                        "device_id": _hex(self.rng, 16),
                        "klaviyo_sdk": "swift" if i % 2 == 0 else "android",
                        "sdk_version": "3.0.0",
                        "device_model": "iPhone12,1" if i % 2 == 0 else "Pixel 8",
                        "os_name": "ios" if i % 2 == 0 else "android",
                        "os_version": "17.0" if i % 2 == 0 else "14",
                        "manufacturer": "Apple" if i % 2 == 0 else "Google",
                        "app_name": "Sim Störe",
                        "app_version": "1.2.3",
                        "app_build": str(100 + i),
                        "app_id": "example.sim.store",
                        "environment": "release",
                    },
                },
                relationships={"profile": {"data": {"type": "profile", "id": self.profile_ids[i]}}},
            )

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
            made = _dt("2023-01-02T00:00:00+00:00") + timedelta(days=31 * i, seconds=i)
            rid = _short(self.rng)
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
                    _hex(self.rng),
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
            _spread(rng, "2024-01-02T00:00:00+00:00", "2024-09-30T12:00:00+00:00", 97)
            + [_dt(EVENT_DATETIME_TIE_2)] * 7
            + _spread(rng, "2024-10-01T00:00:00+00:00", "2025-05-31T00:00:00+00:00", 90)
            + [_dt(EVENT_DATETIME_TIE)] * 12
            + _spread(rng, "2025-06-02T00:00:00+00:00", "2026-11-19T23:00:00+00:00", 94)
        )
        created = self.profile_created
        last_event: dict[str, str] = {}
        rows = []
        for i, when in enumerate(times):
            # Profiles only do things after they exist.
            upto = max(1, bisect_right(created, when))
            profile_id = self.profile_ids[rng.randrange(upto)]
            metric_index = rng.randrange(len(self.metric_ids))
            rid = _short(rng, 12)
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
                    "uuid": _uuid(rng),
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

    def lists_and_segments(self) -> None:
        rng = self.rng
        names = [
            "Newsletter",
            "VIP 💎",
            'Bob\'s "Best" Customers',
            "Empty list",
            "Ünïcode Liste",
            "Wholesale",
            "Back in stock",
            "SMS Subscribers",
            "Preview list",
            "Test list",
            "Spring 2025",
            "Holiday 2025",
        ]
        made = _spread(rng, "2023-02-01T00:00:00+00:00", "2026-06-01T00:00:00+00:00", len(names))
        list_ids = []
        for i, name in enumerate(names):
            rid = _short(rng)
            list_ids.append(rid)
            self.add(
                "list",
                rid,
                {
                    "name": name,
                    "created": iso(made[i]),
                    "updated": iso(made[i] + timedelta(days=3 + i)),
                    "opt_in_process": ["double_opt_in", "single_opt_in", None][i % 3],
                },
            )
        self.list_ids = list_ids
        joined = (
            _spread(rng, "2024-01-01T00:00:00+00:00", "2025-01-14T00:00:00+00:00", 17)
            + [_dt(LIST_JOINED_TIE)] * 6
            + _spread(rng, "2025-01-16T00:00:00+00:00", "2026-11-01T00:00:00+00:00", 22)
        )
        members = rng.sample(self.profile_ids, len(joined))
        for profile_id, when in zip(members, joined, strict=True):
            self.data.add_list_member(list_ids[0], profile_id, when)
        self.notes["list_joined_tie"] = {
            "list_id": list_ids[0],
            "joined_group_at": LIST_JOINED_TIE,
            "ids": sorted(members[17:23]),
            "positions": (17, 22),
            "members": len(joined),
        }
        for index, count in ((1, 12), (2, 3), (5, 5), (7, 8)):
            times = _spread(rng, "2024-06-01T00:00:00+00:00", "2026-10-01T00:00:00+00:00", count)
            for profile_id, when in zip(rng.sample(self.profile_ids, count), times, strict=True):
                self.data.add_list_member(list_ids[index], profile_id, when)
        self.notes["empty_list_id"] = list_ids[3]

        seg_names = [
            "Engaged (30 days)",
            "Repeat Purchasers",
            "Churn risk ⚠️",
            "Never opened",
            "Newsletter members",
            "Big spenders",
            "Deutschland 🇩🇪",
            "Unprocessed",
            "Starred",
            "Inactive",
            "Test segment",
        ]
        seg_made = _spread(
            rng, "2023-03-01T00:00:00+00:00", "2026-05-01T00:00:00+00:00", len(seg_names)
        )
        seg_ids = []
        for i, name in enumerate(seg_names):
            rid = _short(rng)
            seg_ids.append(rid)
            definition = None
            if i % 2 == 0:
                definition = {
                    "condition_groups": [
                        {
                            "conditions": [
                                {
                                    "type": "profile-group-membership",
                                    "is_member": True,
                                    "group_ids": [list_ids[0]],
                                    "timeframe_filter": None,
                                }
                            ]
                        }
                    ]
                }
            self.add(
                "segment",
                rid,
                {
                    "name": name,
                    "definition": definition,
                    "created": iso(seg_made[i]),
                    "updated": iso(seg_made[i] + timedelta(hours=5 * i)),
                    "is_active": i != 9,
                    "is_processing": i == 7,
                    "is_starred": i in (1, 8),
                },
            )
        self.segment_ids = seg_ids
        joined = (
            _spread(rng, "2024-02-01T00:00:00+00:00", "2025-01-31T00:00:00+00:00", 18)
            + [_dt(SEGMENT_JOINED_TIE)] * 4
            + _spread(rng, "2025-02-02T00:00:00+00:00", "2026-11-01T00:00:00+00:00", 8)
        )
        members = rng.sample(self.profile_ids, len(joined))
        for profile_id, when in zip(members, joined, strict=True):
            self.data.add_segment_member(seg_ids[0], profile_id, when)
        self.notes["segment_joined_tie"] = {
            "segment_id": seg_ids[0],
            "joined_group_at": SEGMENT_JOINED_TIE,
            "ids": sorted(members[18:22]),
            "positions": (18, 21),
            "members": len(joined),
        }
        times = _spread(rng, "2024-06-01T00:00:00+00:00", "2026-10-01T00:00:00+00:00", 8)
        for profile_id, when in zip(rng.sample(self.profile_ids, 8), times, strict=True):
            self.data.add_segment_member(seg_ids[1], profile_id, when)

    def tags(self) -> None:
        groups = [("Default", False, True), ("Season", True, False), ("Région 🌍", False, False)]
        group_ids = []
        for name, exclusive, default in groups:
            rid = _uuid(self.rng)
            group_ids.append(rid)
            self.add("tag-group", rid, {"name": name, "exclusive": exclusive, "default": default})
        names = ["welcome", "promo", "🎄 holiday", "Q1", "Q2", "vip", "sms", "ünused"]
        tag_ids = []
        for i, name in enumerate(names):
            rid = _uuid(self.rng)
            tag_ids.append(rid)
            group = group_ids[0] if i not in (2, 3, 4) else group_ids[1]
            if i == 7:
                group = group_ids[2]
            self.add(
                "tag",
                rid,
                {"name": name},
                relationships={"tag-group": {"data": {"type": "tag-group", "id": group}}},
            )
        self.tag_ids = tag_ids
        for list_id, tag in ((self.list_ids[0], 0), (self.list_ids[1], 5), (self.list_ids[1], 1)):
            self.data.link("list", list_id, "tags", tag_ids[tag])
        self.data.link("segment", self.segment_ids[0], "tags", tag_ids[5])

    def templates(self) -> list[str]:
        rng = self.rng
        made = _spread(rng, "2023-04-01T00:00:00+00:00", "2026-09-01T00:00:00+00:00", 12)
        ids = []
        for i in range(12):
            rid = _short(rng)
            ids.append(rid)
            self.add(
                "template",
                rid,
                {
                    "name": ["Welcome", "Spring Sale 🌸", "Receipt", "Newsletter Ünïcode"][i % 4]
                    + f" #{i}",
                    "editor_type": ["CODE", "SYSTEM_DRAGGABLE", "USER_DRAGGABLE"][i % 3],
                    "html": f"<html><body><h1>Hello {{{{ first_name|default:'there' }}}} #{i}"
                    "</h1><p>Grüße 👋</p></body></html>",
                    "text": None if i % 2 else f"Hello #{i}",
                    "amp": None,
                    "created": iso(made[i]),
                    "updated": iso(made[i] + timedelta(days=i)),
                    "definition": None,
                },
            )
        made = _spread(rng, "2024-04-01T00:00:00+00:00", "2026-09-01T00:00:00+00:00", 4)
        definitions: list[dict[str, Any] | None] = [
            {
                "content_type": "block",
                "type": "html",
                "data": {
                    "content": "<p>Free shipping 🚚 über 50 €</p>",
                    "display_options": {
                        "show_on": "all",
                        "visible_check": None,
                        "content_repeat": None,
                    },
                },
            },
            {"content_type": "block", "type": "horizontal_rule", "data": None},
            {"content_type": "section", "type": "section", "data": None},
            None,
        ]
        for i, definition in enumerate(definitions):
            self.add(
                "template-universal-content",
                _ulid(rng, made[i]),
                {
                    "name": ["Footer", "Divider", "Hero section", "Empty"][i],
                    "definition": definition,
                    "created": iso(made[i]),
                    "updated": iso(made[i] + timedelta(hours=i)),
                    "screenshot_status": ["completed", "never_generated", "stale", "failed"][i],
                    "screenshot_url": f"https://screens.example.com/{i}.png" if i == 0 else "",
                },
            )
        self.template_ids = ids
        return ids

    def images(self) -> None:
        rng = self.rng
        made = _spread(rng, "2024-01-01T00:00:00+00:00", "2026-10-01T00:00:00+00:00", 6)
        names = ["logo.png", "Café banner ☕.jpeg", "hero.gif", "footer.png", "hidden.png", "x"]
        formats = ["png", "jpeg", "gif", "png", "png", "jpeg"]
        self.image_ids = []
        for i, name in enumerate(names):
            rid = str(101 + i * 7)
            self.image_ids.append(rid)
            self.add(
                "image",
                rid,
                {
                    "name": name,
                    "image_url": f"https://images.example.com/{rid}/{name.replace(' ', '%20')}",
                    "format": formats[i],
                    "size": 1024 * (i + 1) + i,
                    "hidden": i == 4,
                    "updated_at": iso(made[i]),
                },
            )

    def campaigns(self) -> None:
        rng = self.rng
        plan = (
            [("email", False)] * 5
            + [("email", True)] * 2
            + [("sms", False)] * 3
            + [("sms", True)]
            + [("mobile_push", False)] * 3
            + [("mobile_push", True)]
        )
        made = _spread(rng, "2024-02-01T00:00:00+00:00", "2026-10-15T00:00:00+00:00", len(plan))
        rng.shuffle(made)
        names = ["Spring Sale 🌸", "Welcome", "Black Friday", "Nöel", "Restock", "Survey"]
        statuses = ["Sent", "Sent", "Draft", "Scheduled", "Cancelled", "Sent"]
        notes: dict[str, list[str]] = {"email": [], "sms": [], "mobile_push": [], "archived": []}
        for i, (channel, archived) in enumerate(plan):
            created = made[i]
            rid = _ulid(rng, created)
            status = statuses[i % len(statuses)]
            sent = status in ("Sent", "Scheduled")
            send_at = created + timedelta(days=2)
            if i == 3:
                strategy: dict[str, Any] = {"method": "smart_send_time", "date": "2025-03-04"}
            elif i == 8:
                strategy = {
                    "method": "throttled",
                    "datetime": iso(send_at),
                    "throttle_percentage": 20,
                }
            elif sent:
                strategy = {
                    "method": "static",
                    "datetime": iso(send_at),
                    "options": {"is_local": False},
                }
            else:
                strategy = {"method": "immediate"}
            tracking: dict[str, Any] | None
            if channel == "email":
                tracking = {
                    "add_tracking_params": True,
                    "custom_tracking_params": [
                        {"type": "dynamic", "value": "campaign_id", "name": "utm_campaign"},
                        {"type": "static", "value": "klaviyo", "name": "utm_source"},
                    ],
                    "is_tracking_clicks": True,
                    "is_tracking_opens": i % 2 == 0,
                }
            elif channel == "sms":
                tracking = {"add_tracking_params": False, "custom_tracking_params": None}
            else:
                tracking = None
            self.add(
                "campaign",
                rid,
                {
                    "name": f"{names[i % len(names)]} ({channel}) #{i}",
                    "status": status,
                    "archived": archived,
                    "audiences": {
                        "included": [self.list_ids[i % 3]],
                        "excluded": [self.list_ids[5]] if i % 4 == 0 else None,
                    },
                    "send_options": {"use_smart_sending": i % 3 != 0},
                    "tracking_options": tracking,
                    "send_strategy": strategy,
                    "created_at": iso(created),
                    "scheduled_at": iso(created + timedelta(days=1)) if sent else None,
                    "updated_at": iso(created + timedelta(days=1, hours=i)),
                    "send_time": iso(send_at) if status == "Sent" else None,
                },
                meta={"channel": channel},
            )
            notes[channel].append(rid)
            if archived:
                notes["archived"].append(rid)
            message_id = _ulid(rng, created)
            relationships: dict[str, Any] = {"campaign": {"data": {"type": "campaign", "id": rid}}}
            if channel == "email":
                definition: dict[str, Any] = {
                    "channel": "email",
                    "label": f"Email #{i}",
                    "content": {
                        "subject": f"{names[i % len(names)]} \u2013 don't miss it",
                        "preview_text": None if i % 2 else "Ünïcode preview ✓",
                        "from_email": "hello@sim-store.example",
                        "from_label": "Sim Störe",
                        "reply_to_email": None,
                        "cc_email": None,
                        "bcc_email": None,
                    },
                }
                relationships["template"] = {
                    "data": {"type": "template", "id": self.template_ids[i % 12]}
                }
                if i == 0:
                    relationships["image"] = {"data": {"type": "image", "id": self.image_ids[0]}}
            elif channel == "sms":
                definition = {
                    "channel": "sms",
                    "content": {"body": f"Sale! 🎉 #{i} Reply STOP to opt out", "media_url": None},
                    "render_options": {
                        "shorten_links": True,
                        "add_org_prefix": True,
                        "add_info_link": True,
                        "add_opt_out_language": False,
                    },
                }
            elif i % 2:
                definition = {
                    "channel": "mobile_push",
                    "notification_type": "silent",
                    "kv_pairs": {"refresh": "true"},
                }
            else:
                definition = {
                    "channel": "mobile_push",
                    "notification_type": "standard",
                    "content": {
                        "title": "Psst 👀",
                        "body": f"Push #{i}",
                        "dynamic_image": None,
                        "action_buttons": None,
                    },
                    "kv_pairs": None,
                    "options": {"on_open": None, "badge": None, "play_sound": True},
                }
            self.add(
                "campaign-message",
                message_id,
                {
                    "definition": definition,
                    "send_times": [{"datetime": iso(send_at), "is_local": False}] if sent else None,
                    "created_at": iso(created),
                    "updated_at": iso(created + timedelta(hours=1)),
                },
                relationships=relationships,
            )
            if i % 3 == 0:
                self.data.link("campaign", rid, "tags", self.tag_ids[i % 3])
        self.notes["campaigns"] = notes

    def flows(self) -> None:
        rng = self.rng
        specs = [
            ("Welcome Series 👋", "live", False, "Added to List"),
            ("Abandoned Cart", "live", False, "Metric"),
            ("Old Winback", "draft", True, "Metric"),
            ("Birthday 🎂", "manual", False, "Date Based"),
            ("Price Drop", "draft", False, "Price Drop"),
            ("Unconfigured flow", "draft", False, "Unconfigured"),
        ]
        made = _spread(rng, "2023-06-01T00:00:00+00:00", "2026-08-01T00:00:00+00:00", len(specs))
        flow_ids = []
        for i, (name, status, archived, trigger) in enumerate(specs):
            rid = _short(rng)
            flow_ids.append(rid)
            self.add(
                "flow",
                rid,
                {
                    "name": name,
                    "status": status,
                    "archived": archived,
                    "created": iso(made[i]),
                    "updated": iso(made[i] + timedelta(days=10 + i)),
                    "trigger_type": trigger,
                },
            )
        self.data.link("flow", flow_ids[0], "tags", self.tag_ids[0])
        self.data.link("flow", flow_ids[1], "tags", self.tag_ids[1])
        plans = {0: ["time-delay", "send-email", "conditional-split", "send-sms"]}
        plans[1] = ["send-email", "time-delay"]
        plans[2] = ["send-email"]
        action_number = 90_000_001
        notes: dict[str, Any] = {"flow_ids": flow_ids, "archived": [flow_ids[2]], "actions": {}}
        for flow_index, kinds in plans.items():
            base = made[flow_index] + timedelta(hours=1)
            ids = [str(action_number + n) for n in range(len(kinds))]
            action_number += 100
            notes["actions"][flow_ids[flow_index]] = ids
            for n, kind in enumerate(kinds):
                aid = ids[n]
                following = ids[n + 1] if n + 1 < len(ids) else None
                stamp = base + timedelta(minutes=n)
                message_id = _short(rng)
                message = self._flow_message(kind, message_id, n)
                definition: dict[str, Any] = {"id": aid, "temporary_id": None, "type": kind}
                if kind == "time-delay":
                    definition["links"] = {"next": following}
                    definition["data"] = {
                        "unit": "days",
                        "value": 1 + n,
                        "secondary_value": None,
                        "timezone": "profile",
                        "delay_until_time": None,
                        "delay_until_weekdays": None,
                    }
                elif kind == "conditional-split":
                    definition["links"] = {"next_if_true": following, "next_if_false": None}
                    definition["data"] = {"profile_filter": None}
                else:
                    definition["links"] = {"next": following}
                    definition["data"] = {"message": message, "status": "live"}
                self.add(
                    "flow-action",
                    aid,
                    {"created": iso(stamp), "updated": iso(stamp), "definition": definition},
                    relationships={"flow": {"data": {"type": "flow", "id": flow_ids[flow_index]}}},
                )
                if message is None:
                    continue
                relationships: dict[str, Any] = {
                    "flow-action": {"data": {"type": "flow-action", "id": aid}}
                }
                if kind == "send-email":
                    relationships["template"] = {
                        "data": {"type": "template", "id": self.template_ids[n]}
                    }
                self.add(
                    "flow-message",
                    message_id,
                    {
                        "channel": "email" if kind == "send-email" else "sms",
                        "created": iso(stamp),
                        "updated": iso(stamp + timedelta(days=1)),
                        "definition": message,
                    },
                    relationships=relationships,
                )
        self.notes["flows"] = notes

    def _flow_message(self, kind: str, message_id: str, n: int) -> dict[str, Any] | None:
        if kind == "send-email":
            return {
                "from_email": "hello@sim-store.example",
                "from_label": "Sim Störe",
                "reply_to_email": None,
                "cc_email": None,
                "bcc_email": None,
                "subject_line": "Welcome to Sim Störe 👋",
                "preview_text": None,
                "template_id": self.template_ids[n],
                "smart_sending_enabled": True,
                "transactional": False,
                "add_tracking_params": True,
                "custom_tracking_params": None,
                "additional_filters": None,
                "name": f"Email #{n}",
                "id": message_id,
            }
        if kind == "send-sms":
            return {
                "body": "Thanks for joining! 🎉 Reply STOP to opt out",
                "image_id": None,
                "dynamic_image": None,
                "message_hierarchy": None,
                "shorten_links": True,
                "include_contact_card": False,
                "add_org_prefix": True,
                "add_info_link": True,
                "add_opt_out_language": False,
                "smart_sending_enabled": True,
                "sms_quiet_hours_enabled": True,
                "transactional": False,
                "add_tracking_params": False,
                "custom_tracking_params": None,
                "template_id": None,
                "additional_filters": None,
                "name": f"SMS #{n}",
                "id": message_id,
            }
        return None

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
                    expires = iso(_dt("2025-12-31T23:59:59+00:00") + timedelta(days=30 * n))
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
        made = _spread(rng, "2024-01-01T00:00:00+00:00", "2026-09-01T00:00:00+00:00", 10)
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

    def forms(self) -> None:
        rng = self.rng
        made = _spread(rng, "2024-03-04T00:00:00+00:00", "2026-09-01T00:00:00+00:00", 4)
        versions = [2, 3, 1, 1]
        number = 1_234_560
        for i in range(4):
            rid = _short(rng)
            # Forms use "Z" timestamps in the spec's examples, unlike most resources.
            stamp = made[i].strftime("%Y-%m-%dT%H:%M:%SZ")
            self.add(
                "form",
                rid,
                {
                    "name": ["Cyber Monday Deals", "Newsletter pop-up 📬", "Exit intent", "Draft"][
                        i
                    ],
                    "status": "live" if i < 3 else "draft",
                    "ab_test": i == 0,
                    "created_at": stamp,
                    "updated_at": (made[i] + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                },
            )
            for n in range(versions[i]):
                number += 1
                when = (made[i] + timedelta(hours=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
                self.add(
                    "form-version",
                    str(number),
                    {
                        "form_type": ["popup", "embed", "flyout", "banner", "full_page"][n % 5],
                        "variation_name": "A" if n == 0 else "B",
                        "ab_test": {"variation_name": "B"} if i == 0 and n else None,
                        "status": "live" if n == 0 else "draft",
                        "created_at": when,
                        "updated_at": when,
                    },
                    relationships={"form": {"data": {"type": "form", "id": rid}}},
                )

    def webhooks(self) -> None:
        for i in range(2):
            made = _dt("2025-05-05T05:05:05+00:00") + timedelta(days=40 * i)
            self.add(
                "webhook",
                _ulid(self.rng, made),
                {
                    "name": ["Order sync", "SMS events 📱"][i],
                    "description": None if i else "Sends placed orders to the warehouse",
                    "endpoint_url": f"https://hooks.example.com/{i}",
                    "enabled": i == 0,
                    "created_at": iso(made),
                    "updated_at": iso(made + timedelta(days=1)),
                },
            )

    def reviews(self) -> None:
        rng = self.rng
        made = _spread(rng, "2025-01-01T00:00:00+00:00", "2026-11-01T00:00:00+00:00", 6)
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
                _hex(rng),
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


def build_default(data: SimData, seed: int = 0) -> SimData:
    """Small but complete data: every type the tap reads, with awkward cases in known places."""
    builder = _Builder(data, seed)
    with data.lock:
        builder.account()
        builder.profiles()
        builder.push_tokens()
        builder.metrics()
        builder.events()
        builder.lists_and_segments()
        builder.tags()
        builder.templates()
        builder.images()
        builder.campaigns()
        builder.flows()
        builder.coupons()
        builder.catalog()
        builder.forms()
        builder.webhooks()
        builder.reviews()
        data.notes.update(builder.notes)
    return data


def build_bulk(data: SimData, events: int, profiles: int, seed: int = 0) -> SimData:
    """Many profiles and events for benchmarks, generated on first read of each type."""
    rng = random.Random(seed)
    metric_ids = [_short(rng) for _ in range(10)]
    start = _dt("2024-01-01T00:00:00+00:00")
    span = int((_dt("2026-11-19T00:00:00+00:00") - start).total_seconds())
    with data.lock:
        for i, metric_id in enumerate(metric_ids):
            data.add(
                "metric",
                {
                    "type": "metric",
                    "id": metric_id,
                    "attributes": {
                        "name": f"Bulk metric {i}",
                        "created": "2023-06-01T00:00:00+00:00",
                        "updated": "2023-06-01T00:00:00+00:00",
                        "integration": None,
                    },
                },
            )

    def profile_id(i: int) -> str:
        return f"01JBULK{i:019d}"

    def load_profiles(store: SimData) -> None:
        step = span // max(1, profiles)
        for i in range(profiles):
            made = iso(start + timedelta(seconds=i * step))
            store.fast_insert(
                "profile",
                {
                    "type": "profile",
                    "id": profile_id(i),
                    "attributes": {
                        "email": f"bulk{i}@example.com",
                        "phone_number": None,
                        "external_id": None,
                        "first_name": "Bülk",
                        "last_name": str(i),
                        "organization": None,
                        "locale": None,
                        "title": None,
                        "image": None,
                        "created": made,
                        "updated": made,
                        "last_event_date": None,
                        "location": None,
                        "properties": {"n": i},
                    },
                },
                {},
            )

    def load_events(store: SimData) -> None:
        # Pairs of events share a second so ties exist throughout.
        step = span // max(1, events // 2 + 1)
        base = int(start.timestamp())
        utc = start.tzinfo
        profile_refs = [("profile", profile_id(i)) for i in range(max(1, profiles))]
        metric_refs = [("metric", m) for m in metric_ids]
        resources = store._resources.setdefault("event", {})
        links = store._links
        for i in range(events):
            seconds = base + (i // 2) * step
            rid = f"ev{i:010d}"
            resources[rid] = {
                "type": "event",
                "id": rid,
                "attributes": {
                    "timestamp": seconds,
                    "event_properties": {"$value": (i % 1000) / 10, "OrderId": i},
                    "datetime": datetime.fromtimestamp(seconds, utc).isoformat(),
                    "uuid": f"00000000-0000-4000-8000-{i:012x}",
                },
            }
            links[("event", rid)] = {
                "profile": {profile_refs[i % len(profile_refs)]: None},
                "metric": {metric_refs[i % len(metric_refs)]: None},
            }

    data.register_lazy("profile", load_profiles)
    data.register_lazy("event", load_events)
    data.notes["bulk"] = {"events": events, "profiles": profiles, "metric_ids": metric_ids}
    return data
