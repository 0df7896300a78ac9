"""Seed data: deterministic, spec-shaped, awkward values intact on the wire; bulk data."""

from __future__ import annotations

import re
import time

import requests

from klaviyo_sim import KlaviyoSimulator, SimData
from klaviyo_sim.tests.conftest import get, headers_for, ids_of, walk

KLAVIYO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(\+00:00|Z)$")


def test_seed_data_is_deterministic_and_spec_shaped() -> None:
    first, again, other = SimData.default(0), SimData.default(0), SimData.default(1)
    assert first.get("profile") == again.get("profile")
    assert first.get("event") == again.get("event")
    assert first.get("profile") != other.get("profile")
    now = first.now().isoformat()
    for kind, stamp in (("profile", "updated"), ("event", "datetime"), ("list", "created")):
        for resource in first.get(kind):
            value = resource["attributes"][stamp]
            assert KLAVIYO_TIME.match(value), value
            assert value < now
    for event in first.get("event"):
        assert isinstance(event["attributes"]["timestamp"], int)
        assert event["relationships"]["profile"]["data"]["type"] == "profile"
    counts = {kind: first.count(kind) for kind in first.types()}
    assert counts["profile"] == 120
    assert counts["event"] == 339  # 300 + 39 of build_attribution
    assert min(counts.values()) >= 1


def test_big_integers_and_unicode_survive_the_wire(
    sim: KlaviyoSimulator, http: requests.Session
) -> None:
    big_ids = sim.data.notes["profile_big_int_ids"]
    body = get(http, sim, "/api/profiles", filter=f"equals(id,'{big_ids[0]}')").json()
    properties = body["data"][0]["attributes"]["properties"]
    assert properties["big_number"] > 2**64
    assert properties["emoji_key_🎉"] == "yes"
    # UTF-8 on the wire, not \u escapes.
    assert "Sim Störe".encode() in http.get(sim.url + "/api/accounts", timeout=5).content


def test_latency_and_bulk_data() -> None:
    data = SimData.bulk(events=3000, profiles=300, seed=0)
    with KlaviyoSimulator(data=data, latency=0.2) as slow, requests.Session() as http:
        http.headers.update(headers_for(slow.api_key))
        started = time.monotonic()
        pages = walk(http, slow.url + "/api/events", {"page[size]": "1000"})
        elapsed = time.monotonic() - started
        assert len(pages) == 3
        assert len(set(ids_of(pages))) == 3000
        assert elapsed >= 0.6
        total = len(ids_of(walk(http, slow.url + "/api/profiles", {"page[size]": "100"})))
        assert total == 300
