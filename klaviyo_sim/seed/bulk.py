"""``SimData.bulk``: many profiles and events for benchmarks, generated on first read.

Three shapes of time (README "SimData.bulk shapes"):

* ``uniform``: evenly spaced from 2024-01-01 to 2026-11-19 (pairs of events share a second);
* ``growth``: a real account's life, :data:`GROWTH` below: sparse early years, the whole of
  2021 empty, then exponential growth to the present;
* ``bulk_import``: ``growth`` plus one bulk import, :data:`IMPORT_SPIKE`: a block of profiles
  created and updated in one second, and a block of events in one second.

Ids follow time: profile ``i`` is the i-th created, event ``i`` the i-th by ``datetime``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from ..data import SimData, iso
from .base import instant, short_id

SHAPES = ("uniform", "growth", "bulk_import")

UTC = timezone.utc
_UNIFORM_START = "2024-01-01T00:00:00+00:00"
_END = "2026-11-19T00:00:00+00:00"


@dataclass(frozen=True)
class Period:
    """A stretch of the account's life: ``share`` of the records, spread over [start, end)."""

    start: str
    end: str
    share: float | None  # None: whatever the other periods leave
    # Density at the end over density at the start: 1 is flat, more is exponential growth.
    growth: float = 1.0


# A store opened in March 2019, tried Klaviyo for a while, left it alone for all of 2021, came
# back in 2022 and has grown since 2023 (density x40 from January 2023 to November 2026).
GROWTH: tuple[Period, ...] = (
    Period("2019-03-01T00:00:00+00:00", "2021-01-01T00:00:00+00:00", 0.015),
    Period("2022-01-01T00:00:00+00:00", "2023-01-01T00:00:00+00:00", 0.025),
    Period("2023-01-01T00:00:00+00:00", _END, None, growth=40.0),
)
# Nothing at all happens in this stretch (a whole calendar year), in either growth shape.
EMPTY = ("2021-01-01T00:00:00+00:00", "2022-01-01T00:00:00+00:00")


@dataclass(frozen=True)
class Spike:
    """One second shared by a block of records: ``min(most, share x total)`` of them."""

    second: str
    most: int
    share: float

    def size(self, total: int) -> int:
        return min(self.most, int(total * self.share))


# The bulk import: profiles created (and updated) in one second, then their history of
# events loaded with one `datetime`, a few minutes later. 20,000 of each when there are at
# least 50,000 (profiles) or 200,000 (events), otherwise 40 % and 10 % of them.
IMPORT_SPIKE = {
    "profile": Spike("2024-05-14T03:17:42+00:00", 20_000, 0.4),
    "event": Spike("2024-05-14T03:21:09+00:00", 20_000, 0.1),
}


def _draws(rng: random.Random, period: Period, lo: int, hi: int, count: int) -> list[int]:
    """``count`` seconds in [lo, hi) with the period's density (flat or exponential)."""
    span = hi - lo
    draw = rng.random
    if period.growth == 1.0:
        return [lo + int(draw() * span) for _ in range(count)]
    # Inverse of the CDF of a density proportional to exp(k t) on [0, span).
    scale = span / math.log(period.growth)
    rise = period.growth - 1.0
    log1p = math.log1p
    last = hi - 1
    return [min(last, lo + int(log1p(draw() * rise) * scale)) for _ in range(count)]


def growth_seconds(rng: random.Random, count: int, avoid: int | None = None) -> list[int]:
    """``count`` epoch seconds drawn from :data:`GROWTH`, ascending (never ``avoid``)."""
    fixed = [None if p.share is None else round(count * p.share) for p in GROWTH]
    rest = count - sum(n for n in fixed if n is not None)
    counts = [rest if n is None else n for n in fixed]
    out: list[int] = []
    for period, n in zip(GROWTH, counts, strict=True):
        lo, hi = int(instant(period.start).timestamp()), int(instant(period.end).timestamp())
        out += _draws(rng, period, lo, hi, n)
    if avoid is not None:
        out = [s + 1 if s == avoid else s for s in out]
    out.sort()
    return out


def _timeline(rng: random.Random, count: int, spike: Spike | None) -> tuple[list[int], int]:
    """Ascending seconds for ``count`` records, and how many share the spike's second."""
    if spike is None:
        return growth_seconds(rng, count), 0
    at = int(instant(spike.second).timestamp())
    size = spike.size(count)
    drawn = growth_seconds(rng, count - size, avoid=at)
    cut = next((i for i, s in enumerate(drawn) if s > at), len(drawn))
    return drawn[:cut] + [at] * size + drawn[cut:], size


def build_bulk(
    data: SimData, events: int, profiles: int, seed: int = 0, shape: str = "uniform"
) -> SimData:
    """Many profiles and events for benchmarks, generated on first read of each type."""
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {', '.join(SHAPES)}; got {shape!r}")
    rng = random.Random(seed)
    metric_ids = [short_id(rng) for _ in range(10)]
    start = instant(_UNIFORM_START)
    span = int((instant(_END) - start).total_seconds())
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
    spikes = IMPORT_SPIKE if shape == "bulk_import" else {}
    notes: dict[str, object] = {
        "events": events,
        "profiles": profiles,
        "metric_ids": metric_ids,
        "shape": shape,
    }
    if shape != "uniform":
        notes["empty"] = EMPTY
    if spikes:
        totals = {"event": events, "profile": profiles}
        notes["spike"] = {
            kind: {"second": spike.second, "count": spike.size(totals[kind])}
            for kind, spike in spikes.items()
        }

    def profile_id(i: int) -> str:
        return f"01JBULK{i:019d}"

    def profile_times() -> list[tuple[str, str]]:
        """(created, updated) of each profile, by index."""
        if shape == "uniform":
            step = span // max(1, profiles)
            made = [iso(start + timedelta(seconds=i * step)) for i in range(profiles)]
            return list(zip(made, made, strict=True))
        # Streams of their own, so that the events do not depend on how many profiles there are.
        local = random.Random(f"bulk-profiles-{seed}")
        created, size = _timeline(local, profiles, spikes.get("profile"))
        at = int(instant(spikes["profile"].second).timestamp()) if size else None
        later = growth_seconds(local, profiles, avoid=at)
        local.shuffle(later)
        out = []
        for made, touched in zip(created, later, strict=True):
            # Updated: created, or a later moment of the account's life, whichever is later.
            # The import's profiles have not been touched since.
            updated = made if made == at else max(made, touched)
            out.append((_stamp(made), _stamp(updated)))
        return out

    def load_profiles(store: SimData) -> None:
        for i, (made, updated) in enumerate(profile_times()):
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
                        "updated": updated,
                        "last_event_date": None,
                        "location": None,
                        "properties": {"n": i},
                    },
                },
                {},
            )

    def event_seconds() -> list[int]:
        if shape == "uniform":
            # Pairs of events share a second so ties exist throughout.
            step = span // max(1, events // 2 + 1)
            base = int(start.timestamp())
            return [base + (i // 2) * step for i in range(events)]
        local = random.Random(f"bulk-events-{seed}")
        return _timeline(local, events, spikes.get("event"))[0]

    def load_events(store: SimData) -> None:
        utc = start.tzinfo
        profile_refs = [("profile", profile_id(i)) for i in range(max(1, profiles))]
        metric_refs = [("metric", m) for m in metric_ids]
        resources = store._resources.setdefault("event", {})
        links = store._links
        for i, seconds in enumerate(event_seconds()):
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
    data.notes["bulk"] = notes
    return data


def _stamp(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()
