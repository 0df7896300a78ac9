"""The account itself and its webhooks."""

from __future__ import annotations

from tap_klaviyo.client import KlaviyoStream


class AccountsStream(KlaviyoStream):
    name = "accounts"
    path = "/api/accounts"


class WebhooksStream(KlaviyoStream):
    name = "webhooks"
    path = "/api/webhooks"
