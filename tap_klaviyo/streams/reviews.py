"""Product reviews."""

from __future__ import annotations

from tap_klaviyo.client import KlaviyoStream


class ReviewsStream(KlaviyoStream):
    """Incremental on `updated`: a review changes after it is written (moderation
    status, public reply), and only `updated` catches that. The endpoint sorts on
    `updated` but filters on `created` alone, so every run reads all reviews in
    `updated` order and keeps those at or after the bookmark. `created` would filter
    server-side but miss every change to an existing review."""

    name = "reviews"
    path = "/api/reviews"
    replication_key = "updated"
