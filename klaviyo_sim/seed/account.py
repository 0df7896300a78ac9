"""The account itself, its sign-up forms (with versions) and its webhooks."""

from __future__ import annotations

from datetime import timedelta

from ..data import iso
from .base import SeedBase, instant, short_id, spread, ulid


class AccountSeed(SeedBase):
    """The account, forms, form versions and webhooks."""

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

    def forms(self) -> None:
        rng = self.rng
        made = spread(rng, "2024-03-04T00:00:00+00:00", "2026-09-01T00:00:00+00:00", 4)
        versions = [2, 3, 1, 1]
        number = 1_234_560
        for i in range(4):
            rid = short_id(rng)
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
            made = instant("2025-05-05T05:05:05+00:00") + timedelta(days=40 * i)
            self.add(
                "webhook",
                ulid(self.rng, made),
                {
                    "name": ["Order sync", "SMS events 📱"][i],
                    "description": None if i else "Sends placed orders to the warehouse",
                    "endpoint_url": f"https://hooks.example.com/{i}",
                    "enabled": i == 0,
                    "created_at": iso(made),
                    "updated_at": iso(made + timedelta(days=1)),
                },
            )
