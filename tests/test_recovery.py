"""The recovery table: a stale cursor restarts the read once, a parent gone skips its
children, a forbidden stream is skipped only when the user allows it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tap_klaviyo.errors import KlaviyoAPIError, KlaviyoError
from tap_klaviyo.read.recovery import Recovery, Situation, read_recovering, recovery_for

STALE = KlaviyoAPIError("cursor expired", 400, {"page[cursor]"})
STALE_REPORT = KlaviyoAPIError("cursor expired", 400, {"page_cursor"})
BAD_FILTER = KlaviyoAPIError("bad filter", 400, {"filter"})
GONE = KlaviyoAPIError("not found", 404, set())
FORBIDDEN = KlaviyoAPIError("Stream 's' needs the API key scope(s) x:read", 403, set())
UNAUTHORIZED = KlaviyoAPIError("bad key", 401, set())


def at(*, child: bool = False, ignore: bool = False, restarted: bool = False) -> Situation:
    return Situation("s", child, ignore, restarted)


@pytest.mark.parametrize(
    ("error", "situation", "recovery"),
    [
        (STALE, at(), Recovery.RESTART),
        (STALE_REPORT, at(), Recovery.RESTART),
        (STALE, at(restarted=True), None),
        (BAD_FILTER, at(), None),
        (GONE, at(child=True), Recovery.SKIP_CONTEXT),
        (GONE, at(), None),
        (FORBIDDEN, at(ignore=True), Recovery.SKIP_STREAM),
        (FORBIDDEN, at(child=True, ignore=True), Recovery.SKIP_STREAM),
        (FORBIDDEN, at(), None),
        (UNAUTHORIZED, at(child=True, ignore=True), None),
    ],
)
def test_recovery_for(
    error: KlaviyoAPIError, situation: Situation, recovery: Recovery | None
) -> None:
    rule = recovery_for(error, situation)
    assert (rule.recovery if rule else None) is recovery


def attempts(
    *scripts: list[Any],
) -> tuple[Callable[[bool], Iterator[Any]], list[bool]]:
    """``attempt(restarted)`` yielding each script's items in turn; an exception in a
    script is raised there."""
    calls: list[bool] = []
    queue = list(scripts)

    def attempt(restarted: bool) -> Iterator[Any]:
        calls.append(restarted)
        for item in queue.pop(0):
            if isinstance(item, BaseException):
                raise item
            yield item

    return attempt, calls


def drain(reading: Iterator[Any]) -> tuple[list[Any], Any]:
    """Every item, and what the generator returned."""
    items = []
    while True:
        try:
            items.append(next(reading))
        except StopIteration as stop:
            return items, stop.value


def recovering(attempt: Callable[[bool], Iterator[Any]], **situation: Any) -> Iterator[Any]:
    options: dict[str, Any] = {
        "stream": "s",
        "is_child": False,
        "ignore_forbidden": False,
        "logger": logging.getLogger("tap-test"),
        **situation,
    }
    return read_recovering(attempt, **options)


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_a_read_without_refusals_returns_nothing(caplog: pytest.LogCaptureFixture) -> None:
    attempt, calls = attempts([1, 2, 3])
    assert drain(recovering(attempt)) == ([1, 2, 3], None)
    assert calls == [False] and warnings(caplog) == []


def test_a_stale_cursor_restarts_once(caplog: pytest.LogCaptureFixture) -> None:
    attempt, calls = attempts([1, 2, STALE], [3, 4])
    with caplog.at_level(logging.WARNING):
        assert drain(recovering(attempt)) == ([1, 2, 3, 4], None)
    assert calls == [False, True]
    assert warnings(caplog) == [
        "Stream 's': Klaviyo rejected a page cursor; restarting from the last bookmark"
    ]


def test_a_second_stale_cursor_is_raised(caplog: pytest.LogCaptureFixture) -> None:
    attempt, calls = attempts([1, STALE], [2, STALE])
    items: list[Any] = []
    with caplog.at_level(logging.WARNING), pytest.raises(KlaviyoAPIError) as caught:
        items.extend(recovering(attempt))
    assert caught.value is STALE
    assert items == [1, 2] and calls == [False, True]
    assert len(warnings(caplog)) == 1


def test_the_restart_message_says_where_reading_starts_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    attempt, _ = attempts([STALE_REPORT], [])
    with caplog.at_level(logging.WARNING):
        drain(recovering(attempt, again=lambda: "reading 2024-05-01 to 2024-05-07 again"))
    assert warnings(caplog) == [
        "Stream 's': Klaviyo rejected a page cursor; reading 2024-05-01 to 2024-05-07 again"
    ]


def test_a_gone_parent_skips_only_a_childs_context(caplog: pytest.LogCaptureFixture) -> None:
    attempt, calls = attempts([1, GONE])
    with caplog.at_level(logging.WARNING):
        result = drain(recovering(attempt, is_child=True, context={"list_id": "L1"}))
    assert result == ([1], Recovery.SKIP_CONTEXT)
    assert calls == [False]
    assert warnings(caplog) == [
        "Stream 's': parent {'list_id': 'L1'} is gone (404); skipping its records"
    ]

    attempt, _ = attempts([GONE])
    with pytest.raises(KlaviyoAPIError):
        drain(recovering(attempt, is_child=False))


def test_forbidden_skips_the_stream_only_when_allowed(caplog: pytest.LogCaptureFixture) -> None:
    attempt, _ = attempts([FORBIDDEN])
    with caplog.at_level(logging.WARNING):
        assert drain(recovering(attempt, ignore_forbidden=True)) == ([], Recovery.SKIP_STREAM)
    assert warnings(caplog) == ["Skipping stream: Stream 's' needs the API key scope(s) x:read"]

    attempt, _ = attempts([FORBIDDEN])
    with pytest.raises(KlaviyoAPIError) as caught:
        drain(recovering(attempt))
    assert caught.value is FORBIDDEN


def test_errors_outside_the_table_pass_through() -> None:
    other = KlaviyoError("Stream 's' gave up on GET /api/x after 8 tries: boom")
    attempt, calls = attempts([other])
    with pytest.raises(KlaviyoError) as caught:
        drain(recovering(attempt, is_child=True, ignore_forbidden=True))
    assert caught.value is other and calls == [False]


def test_a_paid_add_on_s_403_skips_the_stream_whatever_the_setting(
    caplog: pytest.LogCaptureFixture,
) -> None:
    plan = KlaviyoAPIError("Stream 's' needs ...", 403, set(), "You do not have access.")
    assert recovery_for(plan, Situation("s", False, False, False, "Advanced KDP add-on"))
    attempt, _ = attempts([1, plan])
    with caplog.at_level(logging.WARNING):
        items, outcome = drain(recovering(attempt, add_on="Advanced KDP add-on"))
    assert (items, outcome) == ([1], Recovery.SKIP_STREAM)
    assert warnings(caplog) == [
        "Stream 's' is skipped: Klaviyo answered 403 (You do not have access.), and the "
        "endpoint needs Klaviyo's Advanced KDP add-on, which this account may not have; "
        "deselect the stream to silence this"
    ]
