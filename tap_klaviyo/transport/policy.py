"""How the tap answers each kind of response, as a table, and how hard it retries."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


@dataclass
class RetryPolicy:
    """Read at every request: a test that changes ``RETRY`` reaches every reader."""

    # Transient failures (5xx, resets, timeouts, broken bodies) get this many tries,
    # with exponential backoff and full jitter.
    max_tries: int = 8
    backoff_factor_seconds: float = 1.0
    max_backoff_seconds: float = 60
    # 429s in a row (each waited out) before the stream gives up.
    max_consecutive_429: int = 30
    timeout_seconds: float = 120
    # Bodies are read in chunks this big: requests reads 10 KB at a time, and each
    # chunk makes the reading thread queue again for the interpreter lock.
    body_chunk_bytes: int = 1 << 20


RETRY = RetryPolicy()


class Outcome(Enum):
    OK = "ok"
    THROTTLED = "throttled"  # wait Retry-After and send again
    RETRY = "retry"  # back off and send again, up to max_tries
    FAIL = "fail"  # one line for the user, no retry


@dataclass(frozen=True)
class ResponseRule:
    """Responses whose status is in [low, high] get this outcome; ``message`` is the
    error's text, formatted with endpoint, stream, status, detail and scopes."""

    low: int
    high: int
    outcome: Outcome
    message: str = ""


# The first rule whose range holds the status decides.
RESPONSE_RULES: tuple[ResponseRule, ...] = (
    ResponseRule(100, 399, Outcome.OK),
    ResponseRule(429, 429, Outcome.THROTTLED),
    ResponseRule(500, 599, Outcome.RETRY, "{endpoint} answered {status}: {detail}"),
    ResponseRule(
        401,
        401,
        Outcome.FAIL,
        "Klaviyo rejected the API key (401) on {endpoint} for stream '{stream}': {detail} "
        "Check the `api_key` setting.",
    ),
    ResponseRule(
        403,
        403,
        Outcome.FAIL,
        "Stream '{stream}' needs the API key scope(s) {scopes}: Klaviyo answered 403 on "
        "{endpoint} ({detail}). Add the scope to the key, deselect the stream, or set "
        "ignore_forbidden_streams.",
    ),
    ResponseRule(
        400,
        499,
        Outcome.FAIL,
        "Klaviyo rejected {endpoint} for stream '{stream}' ({status}): {detail}",
    ),
)


def rule_for(status: int) -> ResponseRule:
    for rule in RESPONSE_RULES:
        if rule.low <= status <= rule.high:
            return rule
    return RESPONSE_RULES[-1]
