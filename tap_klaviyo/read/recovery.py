"""What a read does when Klaviyo refuses a request it can live without: the one
recovery table that collection and report streams share."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

from tap_klaviyo.errors import KlaviyoAPIError

T = TypeVar("T")

# The query parameter Klaviyo blames for a stale cursor: GET collections carry it in
# the URL as page[cursor], the report endpoints as page_cursor.
CURSOR_PARAMETERS = frozenset({"page[cursor]", "page_cursor"})


class Recovery(Enum):
    RESTART = "restart"  # read again from the last bookmark (or the current range), once
    SKIP_CONTEXT = "skip context"  # this parent is gone: its children have no records
    SKIP_STREAM = "skip stream"  # the key may not read the stream, and the user allows that


@dataclass(frozen=True)
class Situation:
    stream: str
    is_child: bool
    ignore_forbidden: bool
    restarted: bool
    # The paid Klaviyo add-on the endpoint needs, if any (webhooks: Advanced KDP).
    add_on: str | None = None
    # A parent without this child is ordinary (a campaign without an estimate).
    missing_is_normal: bool = False


@dataclass(frozen=True)
class RecoveryRule:
    status: int
    applies: Callable[[KlaviyoAPIError, Situation], bool]
    recovery: Recovery
    # Logged as a warning, formatted with stream, context, error, detail, add_on and again.
    message: str
    level: int = logging.WARNING


RECOVERY_RULES: tuple[RecoveryRule, ...] = (
    RecoveryRule(
        400,
        lambda error, at: bool(error.parameters & CURSOR_PARAMETERS) and not at.restarted,
        Recovery.RESTART,
        "Stream '{stream}': Klaviyo rejected a page cursor; {again}",
    ),
    RecoveryRule(
        404,
        lambda error, at: at.is_child and at.missing_is_normal,
        Recovery.SKIP_CONTEXT,
        "Stream '{stream}': nothing for {context} (404)",
        logging.DEBUG,
    ),
    RecoveryRule(
        404,
        lambda error, at: at.is_child,
        Recovery.SKIP_CONTEXT,
        "Stream '{stream}': parent {context} is gone (404); skipping its records",
    ),
    RecoveryRule(
        403,
        lambda error, at: at.add_on is not None,
        Recovery.SKIP_STREAM,
        "Stream '{stream}' is skipped: Klaviyo answered 403 ({detail}), and the endpoint "
        "needs Klaviyo's {add_on}, which this account may not have; deselect the stream "
        "to silence this",
    ),
    RecoveryRule(
        403,
        lambda error, at: at.ignore_forbidden,
        Recovery.SKIP_STREAM,
        "Skipping stream: {error}",
    ),
)


def recovery_for(error: KlaviyoAPIError, at: Situation) -> RecoveryRule | None:
    for rule in RECOVERY_RULES:
        if rule.status == error.status and rule.applies(error, at):
            return rule
    return None


def read_recovering(
    attempt: Callable[[bool], Iterator[T]],
    *,
    stream: str,
    is_child: bool,
    ignore_forbidden: bool,
    logger: logging.Logger,
    add_on: str | None = None,
    missing_is_normal: bool = False,
    context: object = None,
    again: Callable[[], str] = lambda: "restarting from the last bookmark",
) -> Iterator[T]:
    """``attempt(restarted)``'s items, recovering from Klaviyo's refusals as the table
    says. Returns the recovery that ended the read early, if any."""
    restarted = False
    while True:
        try:
            yield from attempt(restarted)
            return None
        except KlaviyoAPIError as error:
            at = Situation(stream, is_child, ignore_forbidden, restarted, add_on, missing_is_normal)
            rule = recovery_for(error, at)
            if rule is None:
                raise
            logger.log(
                rule.level,
                rule.message.format(
                    stream=stream,
                    context=dict(context or {}),
                    error=error,
                    detail=error.detail,
                    add_on=add_on,
                    again=again(),
                ),
            )
            if rule.recovery is not Recovery.RESTART:
                return rule.recovery
            restarted = True
