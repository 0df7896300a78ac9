"""Profiles."""

from __future__ import annotations

from tap_klaviyo.client import KlaviyoStream


class ProfilesStream(KlaviyoStream):
    name = "profiles"
    path = "/api/profiles"
    replication_key = "updated"
