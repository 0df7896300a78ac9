"""Custom objects (``build_objects``, run by ``build_default``): data sources, object types
with their schemas (current, draft, older versions) and object records.

A random stream of its own; it adds records only (README "Custom objects").
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from ..data import SimData, iso
from .base import instant, spread, ulid

# (title, namespace, status, description, schema properties, records)
# A schema property: (name, type, required); the types are the spec's APISchemaProperty enum.
_TYPES: list[dict[str, Any]] = [
    {
        "title": "Loyalty account 💳",
        "namespace": "custom-objects",
        "status": "active",
        "description": "Points and tier of each member of the loyalty programme",
        "properties": [
            ("loyalty_id", "string", True),
            ("email", "string", True),
            ("tier", "string", True),
            ("points", "int", True),
            ("lifetime_spend", "float", False),
            ("joined_at", "timestamp", False),
            ("opted_in", "boolean", False),
        ],
        "versions": 2,
        "records": 45,
    },
    {
        "title": "Support ticket",
        "namespace": "custom-objects",
        "status": "active",
        "description": "",
        "properties": [
            ("ticket_id", "string", True),
            ("subject", "string", True),
            ("status", "string", True),
            ("opened_at", "timestamp", True),
            ("satisfaction", "int", False),
        ],
        "versions": 1,
        "records": 7,
    },
    {
        "title": "Subscription box 📦",
        "namespace": "custom-objects",
        "status": "draft",
        "description": "Monthly coffee box, not published yet",
        "properties": [("box_id", "string", True), ("roast", "string", False)],
        "versions": 0,
        "records": 0,
    },
    {
        "title": "Warranty",
        "namespace": "applications/01JAPP0000SIMWARRANTY00000",
        "status": "active",
        "description": "Registered by an app",
        "properties": [("serial", "string", True), ("expires_at", "timestamp", True)],
        "versions": 1,
        "records": 3,
    },
]
TIERS = ["bronze", "silver", "gold", "platinum 💎"]


def _record(kind: str, n: int, when: str) -> tuple[str, dict[str, Any]]:
    if kind == "Loyalty account 💳":
        key = f"LOY-{n:04d}"
        return key, {
            "loyalty_id": key,
            "email": f"member.{n}@example.com",
            "tier": TIERS[n % len(TIERS)],
            "points": (n * 137) % 5000,
            "lifetime_spend": round(n * 23.45, 2) if n % 5 else None,
            "joined_at": when,
            "opted_in": n % 3 != 0,
        }
    if kind == "Support ticket":
        key = f"T-{1000 + n}"
        return key, {
            "ticket_id": key,
            "subject": ["Wo ist meine Bestellung?", "Refund 💸", "Damaged box"][n % 3],
            "status": ["open", "pending", "solved"][n % 3],
            "opened_at": when,
            "satisfaction": None if n % 3 != 2 else 4,
        }
    key = f"SN-{n:06d}"
    return key, {"serial": key, "expires_at": when}


def build_objects(data: SimData, seed: int = 0) -> SimData:
    rng = random.Random(f"klaviyo-sim-objects-{seed}")
    with data.lock:
        sources = [
            ("Shopify Plus loyalty", "private", "Loyalty programme export"),
            ("Zendesk", "shared", ""),
        ]
        made = spread(rng, "2025-02-01T00:00:00+00:00", "2025-03-01T00:00:00+00:00", len(sources))
        for (title, visibility, description), when in zip(sources, made, strict=True):
            data.add(
                "data-source",
                {
                    "type": "data-source",
                    "id": ulid(rng, when),
                    "attributes": {
                        "title": title,
                        "visibility": visibility,
                        "description": description,
                        "namespace": "custom-objects",
                    },
                },
            )
        notes: dict[str, Any] = {"types": {}, "records": {}}
        made = spread(rng, "2025-03-01T00:00:00+00:00", "2026-06-01T00:00:00+00:00", len(_TYPES))
        for spec, created in zip(_TYPES, made, strict=True):
            type_id = ulid(rng, created)
            schemas = []
            draft = spec["status"] == "draft"
            count = 1 if draft else spec["versions"]
            for version in range(count):
                published = created + timedelta(days=30 * version, hours=1)
                # Older versions lacked the last property.
                properties = spec["properties"][: None if version == count - 1 else -1]
                schema_id = ulid(rng, published)
                data.add(
                    "object-schema",
                    {
                        "type": "object-schema",
                        "id": schema_id,
                        "attributes": {
                            "title": spec["title"],
                            "description": spec["description"],
                            "status": "draft" if draft else "active",
                            "properties": [
                                {"id": i + 1, "name": name, "type": kind, "description": None}
                                for i, (name, kind, _) in enumerate(properties)
                            ],
                            "required": [name for name, _, required in properties if required],
                            "published_at": None if draft else iso(published),
                            "visibility": "private",
                        },
                    },
                )
                schemas.append(schema_id)
            updated = created + timedelta(days=30 * max(0, len(schemas) - 1), hours=1)
            relationships: dict[str, Any] = {
                "schema-versions": {"data": [{"type": "object-schema", "id": s} for s in schemas]}
            }
            if spec["status"] == "draft":
                relationships["draft-schema"] = {
                    "data": {"type": "object-schema", "id": schemas[-1]}
                }
            elif schemas:
                relationships["current-schema"] = {
                    "data": {"type": "object-schema", "id": schemas[-1]}
                }
            data.add(
                "object-type",
                {
                    "type": "object-type",
                    "id": type_id,
                    "attributes": {
                        "title": spec["title"],
                        "description": spec["description"],
                        "status": spec["status"],
                        "namespace": spec["namespace"],
                        "created_at": iso(created),
                        "updated_at": iso(updated),
                    },
                    "relationships": relationships,
                },
            )
            notes["types"][spec["title"]] = type_id
            records = []
            start = instant("2024-01-01T00:00:00+00:00")
            for n in range(spec["records"]):
                when = iso(start + timedelta(days=17 * n, seconds=rng.randrange(86400)))
                key, properties_ = _record(spec["title"], n, when)
                record_id = f"{type_id}:::{key}"
                data.add(
                    "object-record",
                    {
                        "type": "object-record",
                        "id": record_id,
                        "attributes": {"record_properties": properties_},
                    },
                )
                data.link("object-type", type_id, "object-records", record_id)
                records.append(record_id)
            notes["records"][type_id] = records
        data.notes["objects"] = notes
    return data
