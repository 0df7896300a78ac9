"""``SimData.bulk``: many profiles and events for benchmarks, generated on first read."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from ..data import SimData, iso
from .base import instant, short_id


def build_bulk(data: SimData, events: int, profiles: int, seed: int = 0) -> SimData:
    """Many profiles and events for benchmarks, generated on first read of each type."""
    rng = random.Random(seed)
    metric_ids = [short_id(rng) for _ in range(10)]
    start = instant("2024-01-01T00:00:00+00:00")
    span = int((instant("2026-11-19T00:00:00+00:00") - start).total_seconds())
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
