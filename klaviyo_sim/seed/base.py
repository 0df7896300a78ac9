"""What every part of the default seed shares: the tie timestamps, id and time helpers, and
``SeedBase`` (the store, one random stream in a fixed order of calls, the notes, the ids
earlier families made for later ones to refer to)."""

from __future__ import annotations

import random
import string
import uuid
from datetime import datetime, timedelta
from typing import Any

from ..data import SimData

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


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def ulid(rng: random.Random, when: datetime) -> str:
    millis = int(when.timestamp() * 1000)
    head = "".join(CROCKFORD[(millis >> (5 * i)) & 31] for i in reversed(range(10)))
    return head + "".join(rng.choice(CROCKFORD) for _ in range(16))


def short_id(rng: random.Random, n: int = 6) -> str:
    return "".join(rng.choice(ALNUM) for _ in range(n))


def hex_id(rng: random.Random, n: int = 32) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def random_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def spread(rng: random.Random, start: str, end: str, n: int) -> list[datetime]:
    """n distinct whole-second instants in [start, end], ascending."""
    lo, hi = instant(start), instant(end)
    span = int((hi - lo).total_seconds())
    picks = sorted(rng.sample(range(span + 1), n))
    return [lo + timedelta(seconds=s) for s in picks]


class SeedBase:
    """The state each family's builder (a mixin of ``seed._Builder``) works on."""

    # Ids that later families refer to, set by the builder that makes them.
    profile_ids: list[str]
    profile_created: list[datetime]
    metric_ids: list[str]
    list_ids: list[str]
    segment_ids: list[str]
    tag_ids: list[str]
    template_ids: list[str]
    image_ids: list[str]
    item_ids: list[str]

    def __init__(self, data: SimData, seed: int) -> None:
        self.data = data
        self.rng = random.Random(seed)
        self.notes: dict[str, Any] = {}

    def add(self, kind: str, rid: str, attributes: dict[str, Any], **extra: Any) -> str:
        self.data.add(kind, {"type": kind, "id": rid, "attributes": attributes, **extra})
        return rid
