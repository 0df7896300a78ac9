"""Profiles (with subscriptions and predictive analytics) and their push tokens."""

from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta
from typing import Any

from ..data import iso
from .base import (
    BIG_INT,
    PREDICTIVE_KEYS,
    PROFILE_CREATED_TIE,
    PROFILE_UPDATED_TIE,
    SeedBase,
    hex_id,
    instant,
    spread,
    ulid,
)


class ProfileSeed(SeedBase):
    """Profiles and push tokens."""

    def profiles(self) -> list[str]:
        rng = self.rng
        created = (
            spread(rng, "2023-01-05T00:00:00+00:00", "2024-02-20T00:00:00+00:00", 17)
            + [instant(PROFILE_CREATED_TIE)] * 8
            + spread(rng, "2024-03-01T00:00:00+00:00", "2026-03-10T00:00:00+00:00", 95)
        )
        order = list(range(120))
        rng.shuffle(order)
        tie, after = set(order[:25]), set(order[25:30])
        late = iter(spread(rng, "2026-04-01T00:00:00+00:00", "2026-11-15T00:00:00+00:00", 5))
        tie_at = instant(PROFILE_UPDATED_TIE)
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
            rid = ulid(rng, made)
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
            made = instant("2025-01-10T08:00:00+00:00") + timedelta(days=17 * i)
            rid = ulid(self.rng, made)
            self.add(
                "push-token",
                rid,
                {
                    "created": iso(made),
                    "token": hex_id(self.rng, 64),
                    "enablement_status": ["AUTHORIZED", "DENIED", "PROVISIONAL"][i % 3],
                    "platform": "ios" if i % 2 == 0 else "android",
                    "vendor": "apns" if i % 2 == 0 else "fcm",
                    "background": "AVAILABLE",
                    "recorded_date": iso(made),
                    "metadata": None
                    if i == 4
                    else {
                        "device_id": hex_id(self.rng, 16),
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
