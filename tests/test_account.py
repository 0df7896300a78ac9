"""accounts and webhooks: unpaginated endpoints, full table."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import run_tap


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
