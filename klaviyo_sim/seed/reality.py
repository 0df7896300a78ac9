"""``SimData.default(seed, reality=True)``: the default seed plus what the reality layer
needs to show, without changing a single default record.

Today: an account's long tail of archived email campaigns (the unsorted-pages quirk needs
more than the default seed's two), with one pair of records that change places across the
boundary of the default 100-record page.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from .. import reality
from ..data import SimData, iso
from .base import spread, ulid
from .configuration import add_recipient_estimations

# Archived email campaigns added, all last updated before any default campaign (2019-2023):
# they take positions 0..109 of sort=updated_at, the default seed's two archived email
# campaigns follow at 110 and 111.
ARCHIVED_EMAIL_CAMPAIGNS = 110
# Positions (0-based, sort=updated_at) of the pair that changes places across the boundary of
# the first 100-record page (get_campaigns' default and largest page[size]).
BOUNDARY_PAIR = (99, 100)


def build_reality(data: SimData, seed: int = 0) -> SimData:
    # A stream of its own: the default builders' stream, and so their records, stay as they are.
    rng = random.Random(f"klaviyo-sim-reality-{seed}")
    rule = next(r for r in reality.UNSORTED if r.name == "archived-email-campaigns-unsorted")
    templates = data.ids("template")
    lists = data.ids("list")
    first_update, last_update = "2019-06-03T00:00:00+00:00", "2023-12-20T00:00:00+00:00"
    updated = spread(rng, first_update, last_update, ARCHIVED_EMAIL_CAMPAIGNS)
    first, second = BOUNDARY_PAIR
    # The pair straddling the boundary: a flagged record between two unflagged ones.
    wanted = {first - 1: False, first: True, second: False}
    ordered: list[str] = []
    with data.lock:
        for position, stamp in enumerate(updated):
            created = stamp - timedelta(days=3 + rng.randrange(40), seconds=rng.randrange(86400))
            rid = ulid(rng, created)
            while position in wanted and reality.flagged(rule, rid) != wanted[position]:
                rid = ulid(rng, created)
            ordered.append(rid)
            sent_at = created + timedelta(days=2)
            data.add(
                "campaign",
                {
                    "type": "campaign",
                    "id": rid,
                    "attributes": {
                        "name": f"Archived newsletter {created:%Y-%m-%d} #{position}",
                        "status": "Sent",
                        "archived": True,
                        "audiences": {"included": [lists[position % 3]], "excluded": None},
                        "send_options": {"use_smart_sending": position % 2 == 0},
                        "tracking_options": {
                            "add_tracking_params": position % 3 == 0,
                            "custom_tracking_params": None,
                            "is_tracking_clicks": True,
                            "is_tracking_opens": True,
                        },
                        "send_strategy": {
                            "method": "static",
                            "datetime": iso(sent_at),
                            "options": {"is_local": False},
                        },
                        "created_at": iso(created),
                        "scheduled_at": iso(created + timedelta(days=1)),
                        "updated_at": iso(stamp),
                        "send_time": iso(sent_at),
                    },
                    "meta": {"channel": "email"},
                },
            )
            message: dict[str, Any] = {
                "channel": "email",
                "label": f"Email #{position}",
                "content": {
                    "subject": f"News from Sim Störe #{position}",
                    "preview_text": None,
                    "from_email": "hello@sim-store.example",
                    "from_label": "Sim Störe",
                    "reply_to_email": None,
                    "cc_email": None,
                    "bcc_email": None,
                },
            }
            data.add(
                "campaign-message",
                {
                    "type": "campaign-message",
                    "id": ulid(rng, created),
                    "attributes": {
                        "definition": message,
                        "send_times": [{"datetime": iso(sent_at), "is_local": False}],
                        "created_at": iso(created),
                        "updated_at": iso(created + timedelta(hours=1)),
                    },
                    "relationships": {
                        "campaign": {"data": {"type": "campaign", "id": rid}},
                        "template": {
                            "data": {"type": "template", "id": templates[position % len(templates)]}
                        },
                    },
                },
            )
        # As every sent campaign of the default seed (seed/configuration.py): an estimation.
        add_recipient_estimations(data, ordered)
        campaigns = data.notes.get("campaigns")
        if campaigns is not None:
            campaigns["email"] = [*campaigns["email"], *ordered]
            campaigns["archived"] = [*campaigns["archived"], *ordered]
        data.notes["reality"] = {
            "archived_email_campaigns": ordered,
            "boundary_pair": (ordered[first], ordered[second]),
            "boundary_positions": BOUNDARY_PAIR,
        }
    return data
