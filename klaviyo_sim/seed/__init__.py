"""Deterministic seed data shaped like the spec's response schemas, awkward cases included.

Every awkward case is recorded in ``SimData.notes`` so tests can find it without hard-coding
ids (ids depend on the seed; positions and timestamps do not).

``build_default`` runs the builders of each resource family (``account``, ``profiles``,
``events``, ``groups``, ``messaging``, ``commerce``: mixins of one ``_Builder``) in a fixed
order on one random stream, so a seed always gives the same data. ``reality`` adds what the
reality layer needs (``SimData.default(seed, reality=True)``) on a stream of its own. ``bulk``
makes the benchmarks' data.
"""

from __future__ import annotations

from ..data import SimData
from .account import AccountSeed
from .attribution import build_attribution
from .base import (
    ALNUM,
    BIG_INT,
    CROCKFORD,
    EVENT_DATETIME_TIE,
    EVENT_DATETIME_TIE_2,
    LIST_JOINED_TIE,
    PREDICTIVE_KEYS,
    PROFILE_CREATED_TIE,
    PROFILE_UPDATED_TIE,
    SEGMENT_JOINED_TIE,
)
from .bulk import build_bulk
from .commerce import CommerceSeed
from .configuration import build_configuration
from .consent import build_consent
from .events import EventSeed
from .groups import GroupSeed
from .messaging import MessagingSeed
from .objects import build_objects
from .profiles import ProfileSeed
from .reality import build_reality


class _Builder(AccountSeed, ProfileSeed, EventSeed, GroupSeed, MessagingSeed, CommerceSeed):
    """One builder: every family draws from the same random stream, in build_default's order."""


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
        # Later additions, each on a random stream of its own: the records above stay as
        # the family builders made them, but for what these say they change.
        build_consent(data, seed)
        build_attribution(data, seed)
        build_objects(data, seed)
        build_configuration(data, seed)
    return data


__all__ = [
    "ALNUM",
    "BIG_INT",
    "CROCKFORD",
    "EVENT_DATETIME_TIE",
    "EVENT_DATETIME_TIE_2",
    "LIST_JOINED_TIE",
    "PREDICTIVE_KEYS",
    "PROFILE_CREATED_TIE",
    "PROFILE_UPDATED_TIE",
    "SEGMENT_JOINED_TIE",
    "build_bulk",
    "build_default",
    "build_reality",
]
