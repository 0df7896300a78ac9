"""Talking to Klaviyo: one HTTP client (sessions, headers, the key, retries, Retry-After,
RateLimit-Remaining, one-line errors from a response table), JSON:API decoding and
flattening, and the per-endpoint rate limiter. Knows nothing of streams."""
