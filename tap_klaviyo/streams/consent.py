"""Who must not be emailed: global and per-list suppressions, read from profiles.

Klaviyo keeps a profile's suppressions in its `subscriptions` (an additional field) and
lets GET /api/profiles filter and sort on their timestamps, so new suppressions are read
incrementally. An un-suppression only removes the entry (nothing to filter on), so
every `exclusions_full_refresh_days` the streams read every suppressed profile again
and the target drops (or marks deleted) the rows that were not sent.
"""

from __future__ import annotations

from datetime import datetime, timezone

from tap_klaviyo.client import KlaviyoStream
from tap_klaviyo.write.derive import Explode

MARKETING = ("subscriptions", "email", "marketing")
# Profiles a suppression filter cannot miss: any suppression is later than this.
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class ExclusionsStream(KlaviyoStream):
    path = "/api/profiles"
    replication_key = "timestamp"
    id_field = "profile_id"
    earliest = EPOCH
    full_refresh_setting = "exclusions_full_refresh_days"
    # A profile sorts by one of its timestamps: its rows' own are in no order, so the
    # bookmark moves once the stream is read (a killed run reads it again).
    rows_sorted = False

    def static_params(self) -> dict[str, str]:
        return {"additional-fields[profile]": "subscriptions"}


class GlobalExclusionsStream(ExclusionsStream):
    """A row per suppressed profile and reason: Klaviyo sends it no marketing email."""

    name = "global_exclusions"
    primary_keys = ("profile_id", "channel", "reason")
    filter_key = "subscriptions.email.marketing.suppression.timestamp"
    explode = Explode(
        (*MARKETING, "suppression"),
        keep=(("profile_id", "profile_id"), ("email", "email"), ("phone_number", "phone_number")),
        add=(("channel", "email"),),
    )

    @classmethod
    def schema_columns(cls) -> dict[str, dict]:
        return {
            "profile_id": {"type": ["string"]},
            "channel": {"type": ["string"]},
            "reason": {"type": ["string"]},
            "timestamp": {"type": ["string", "null"], "format": "date-time"},
            "email": {"type": ["string", "null"]},
            "phone_number": {"type": ["string", "null"]},
        }


class ListExclusionsStream(ExclusionsStream):
    """A row per profile and list it may not be emailed through."""

    name = "list_exclusions"
    primary_keys = ("list_id", "profile_id")
    filter_key = "subscriptions.email.marketing.list_suppressions.timestamp"
    explode = Explode(
        (*MARKETING, "list_suppressions"),
        keep=(("profile_id", "profile_id"), ("email", "email")),
    )

    @classmethod
    def schema_columns(cls) -> dict[str, dict]:
        return {
            "list_id": {"type": ["string"]},
            "profile_id": {"type": ["string"]},
            "reason": {"type": ["string", "null"]},
            "timestamp": {"type": ["string", "null"], "format": "date-time"},
            "email": {"type": ["string", "null"]},
        }
