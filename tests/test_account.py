"""accounts and webhooks: unpaginated endpoints, full table."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.conftest import run_tap, run_tap_until_failure


@pytest.mark.parametrize(("stream", "kind"), [("accounts", "account"), ("webhooks", "webhook")])
def test_every_record_once_in_one_request(
    sim: Any, config: dict[str, Any], stream: str, kind: str
) -> None:
    run = run_tap(config, streams=[stream])
    emitted = run.ids(stream)
    assert len(emitted) == len(set(emitted)) and set(emitted) == set(sim.data.ids(kind))
    expected = {r["id"]: r["attributes"] for r in sim.data.get(kind)}
    for record in run.records[stream]:
        for name, value in expected[record["id"]].items():
            assert record[name] == value
    assert "replication_key_value" not in str(run.state["bookmarks"].get(stream, {}))
    (sent,) = [r for r in sim.requests if r.path == f"/api/{stream}"]
    assert "page[size]" not in sent.query


def test_webhooks_without_the_paid_add_on_are_one_warning_and_a_skip(
    sim: Any, config: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """Klaviyo answers 403 on webhooks for accounts without its Advanced KDP add-on, even
    with the read scope: a default selection must not fail a first run over it."""
    scopes = set(sim.spec.operations["get_accounts"].scopes)
    sim.add_key("pk_no_kdp", scopes)
    with caplog.at_level(logging.WARNING):
        run = run_tap({**config, "api_key": "pk_no_kdp"}, streams=["accounts", "webhooks"])
    assert sorted(run.ids("accounts")) == sorted(sim.data.ids("account"))
    assert "webhooks" not in run.records
    (warning,) = [r.getMessage() for r in caplog.records if "webhooks" in r.getMessage()]
    assert warning.startswith("Stream 'webhooks' is skipped: Klaviyo answered 403 (")
    assert warning.endswith(
        "and the endpoint needs Klaviyo's Advanced KDP add-on, which this account may not "
        "have; deselect the stream to silence this"
    )
    assert "pk_no_kdp" not in warning


def test_another_stream_s_403_still_names_the_scope_it_needs(
    sim: Any, config: dict[str, Any]
) -> None:
    sim.add_key("pk_no_accounts", {"webhooks:read"})
    _, error = run_tap_until_failure({**config, "api_key": "pk_no_accounts"}, streams=["accounts"])
    assert str(error).startswith(
        "Stream 'accounts' needs the API key scope(s) accounts:read: Klaviyo answered 403"
    )
