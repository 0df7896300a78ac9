"""A run cut short by an outage resumes from its last STATE with nothing lost."""

from __future__ import annotations

from typing import Any

import pytest

from klaviyo_sim import Fault
from tap_klaviyo import spec
from tap_klaviyo.client import KlaviyoStream
from tap_klaviyo.errors import KlaviyoError
from tap_klaviyo.read.estimate import SAMPLES
from tap_klaviyo.read.sizing import TASK_PAGES
from tests.conftest import run_tap, run_tap_until_failure


@pytest.mark.usefixtures("fast_retries")
@pytest.mark.parametrize("workers", [1, 4])
def test_outage_then_resume_loses_nothing(
    bulk_sim: Any, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    # The outage starts after the progress estimate's samples (read beside the stream,
    # in any order with its pages) and two tasks' pages of the read itself, so records
    # were written before it whichever request comes first; events enough that the read
    # cannot be over by then.
    served = SAMPLES + 2 * TASK_PAGES
    page = spec.operation_for("GET", "/api/events").page_size_max
    sim = bulk_sim(events=page * (served + 2), profiles=300)
    monkeypatch.setattr(KlaviyoStream, "STATE_MSG_FREQUENCY", 100)
    config = {"api_key": sim.api_key, "api_url": sim.url, "max_workers": workers}
    outage = sim.faults.add(
        Fault(path_pattern=r"^/api/events$", status=503, after=served, times=None)
    )
    cut, error = run_tap_until_failure(config, streams=["events"])
    assert isinstance(error, KlaviyoError)
    assert 0 < len(cut.ids("events")) < sim.data.count("event")
    assert cut.states, "the cut run emitted STATE before failing"
    sim.faults.remove(outage)

    resumed = run_tap(config, streams=["events"], state=cut.state)
    emitted_before_last_state = set()
    seen = set()
    for message in cut.messages:
        if message["type"] == "RECORD":
            seen.add(message["record"]["id"])
        elif message["type"] == "STATE":
            emitted_before_last_state |= seen
    union = emitted_before_last_state | set(resumed.ids("events"))
    assert union == {e["id"] for e in sim.data.get("event")}


def test_two_runs_with_a_state_file(sim: Any, config: dict[str, Any]) -> None:
    streams = ["profiles", "events", "lists", "list_members", "campaigns", "flows", "templates"]
    first = run_tap(config, streams=streams)
    second = run_tap(config, streams=streams, state=first.state)
    # Nothing changed: incremental streams only re-read their boundary records.
    # (lists are read whole because list_members must visit every list.)
    for stream in ("profiles", "list_members", "campaigns", "flows", "templates"):
        assert len(second.records.get(stream, [])) <= len(first.records[stream]) // 2, stream
    assert second.state["bookmarks"]["profiles"] == first.state["bookmarks"]["profiles"]
