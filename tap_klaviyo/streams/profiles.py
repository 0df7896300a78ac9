"""Profiles and their push tokens."""

from __future__ import annotations

from tap_klaviyo.client import KlaviyoStream


class ProfilesStream(KlaviyoStream):
    name = "profiles"
    path = "/api/profiles"
    replication_key = "updated"
    parallel_windows = True

    def static_params(self) -> dict[str, str]:
        extra = self.settings.profiles_additional_fields
        return {"additional-fields[profile]": ",".join(extra)} if extra else {}


class PushTokensStream(KlaviyoStream):
    name = "push_tokens"
    path = "/api/push-tokens"
