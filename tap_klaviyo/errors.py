"""What can go wrong, as exception types whose messages are one self-contained line."""

from __future__ import annotations

from singer_sdk.exceptions import FatalAPIError, RetriableAPIError


class SettingsError(ValueError):
    """A setting or an input file is wrong; the message names it. Nothing was sent."""


class KlaviyoError(FatalAPIError):
    """A failure the user must act on; its message is one self-contained line."""


class KlaviyoAPIError(KlaviyoError):
    """Klaviyo refused a request; keeps the status and the parameters it blamed."""

    def __init__(self, message: str, status: int, parameters: set[str], detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.parameters = parameters
        # Klaviyo's own words for the refusal.
        self.detail = detail


class ThrottledTooLong(KlaviyoError):
    """A 429 asked to wait longer than ``max_retry_after_seconds`` (a daily quota
    answers with hours): the run stops and resumes from its last state."""

    def __init__(self, stream: str, endpoint: str, wait: float, max_wait: float) -> None:
        super().__init__(
            f"Stream '{stream}': Klaviyo throttled {endpoint} for {wait:.0f}s, longer than "
            f"max_retry_after_seconds={max_wait:.0f}; the run stops here and resumes from its "
            "last state."
        )
        self.wait = wait


class TransientKlaviyoError(RetriableAPIError):
    """A failure worth retrying with backoff."""
