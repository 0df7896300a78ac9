"""The account itself and its webhooks."""

from __future__ import annotations

from tap_klaviyo.client import KlaviyoStream


class AccountsStream(KlaviyoStream):
    name = "accounts"
    path = "/api/accounts"


class WebhooksStream(KlaviyoStream):
    name = "webhooks"
    path = "/api/webhooks"
    # Without it Klaviyo answers 403 even with webhooks:read (klaviyo_sim README).
    paid_add_on = "Advanced KDP add-on"
