"""Lists and segments with their members, and tags with their groups."""

from __future__ import annotations

from datetime import timedelta

from ..data import iso
from .base import (
    LIST_JOINED_TIE,
    SEGMENT_JOINED_TIE,
    SeedBase,
    instant,
    random_uuid,
    short_id,
    spread,
)


class GroupSeed(SeedBase):
    """Lists, segments, tag groups and tags."""

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
        made = spread(rng, "2023-02-01T00:00:00+00:00", "2026-06-01T00:00:00+00:00", len(names))
        list_ids = []
        for i, name in enumerate(names):
            rid = short_id(rng)
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
            spread(rng, "2024-01-01T00:00:00+00:00", "2025-01-14T00:00:00+00:00", 17)
            + [instant(LIST_JOINED_TIE)] * 6
            + spread(rng, "2025-01-16T00:00:00+00:00", "2026-11-01T00:00:00+00:00", 22)
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
            times = spread(rng, "2024-06-01T00:00:00+00:00", "2026-10-01T00:00:00+00:00", count)
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
        seg_made = spread(
            rng, "2023-03-01T00:00:00+00:00", "2026-05-01T00:00:00+00:00", len(seg_names)
        )
        seg_ids = []
        for i, name in enumerate(seg_names):
            rid = short_id(rng)
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
            spread(rng, "2024-02-01T00:00:00+00:00", "2025-01-31T00:00:00+00:00", 18)
            + [instant(SEGMENT_JOINED_TIE)] * 4
            + spread(rng, "2025-02-02T00:00:00+00:00", "2026-11-01T00:00:00+00:00", 8)
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
        times = spread(rng, "2024-06-01T00:00:00+00:00", "2026-10-01T00:00:00+00:00", 8)
        for profile_id, when in zip(rng.sample(self.profile_ids, 8), times, strict=True):
            self.data.add_segment_member(seg_ids[1], profile_id, when)

    def tags(self) -> None:
        groups = [("Default", False, True), ("Season", True, False), ("Région 🌍", False, False)]
        group_ids = []
        for name, exclusive, default in groups:
            rid = random_uuid(self.rng)
            group_ids.append(rid)
            self.add("tag-group", rid, {"name": name, "exclusive": exclusive, "default": default})
        names = ["welcome", "promo", "🎄 holiday", "Q1", "Q2", "vip", "sms", "ünused"]
        tag_ids = []
        for i, name in enumerate(names):
            rid = random_uuid(self.rng)
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
