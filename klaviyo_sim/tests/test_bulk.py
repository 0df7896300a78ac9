"""``SimData.bulk`` shapes: exact totals, determinism, the account's life (the empty year,
growth), the bulk import's spikes, over HTTP too."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import pytest
import requests

from klaviyo_sim import KlaviyoSimulator, SimData
from klaviyo_sim.seed.bulk import EMPTY, IMPORT_SPIKE, SHAPES
from klaviyo_sim.tests.conftest import headers_for, ids_of, walk


def times(data: SimData) -> dict[str, list[str]]:
    profiles = data.get("profile")
    return {
        "created": [p["attributes"]["created"] for p in profiles],
        "updated": [p["attributes"]["updated"] for p in profiles],
        "datetime": [e["attributes"]["datetime"] for e in data.get("event")],
    }


@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_makes_exactly_what_was_asked_deterministically(shape: str) -> None:
    first = SimData.bulk(events=3001, profiles=701, seed=4, shape=shape)
    again = SimData.bulk(events=3001, profiles=701, seed=4, shape=shape)
    assert first.count("event") == 3001 and first.count("profile") == 701
    assert first.get("event") == again.get("event")
    assert first.get("profile") == again.get("profile")
    assert first.notes["bulk"]["shape"] == shape
    stamps = times(first)
    assert max(max(v) for v in stamps.values()) < "2026-11-19T00:00:01+00:00"
    # Ids follow time: events by datetime, profiles by created.
    assert stamps["datetime"] == sorted(stamps["datetime"])
    assert stamps["created"] == sorted(stamps["created"])
    assert all(u >= c for c, u in zip(stamps["created"], stamps["updated"], strict=True))
    for event in first.get("event"):
        when = datetime.fromisoformat(event["attributes"]["datetime"])
        assert when.timestamp() == event["attributes"]["timestamp"]
    if shape != "uniform":
        other = SimData.bulk(events=3001, profiles=701, seed=5, shape=shape)
        assert other.get("event") != first.get("event")


def test_uniform_is_what_it_was() -> None:
    data = SimData.bulk(events=10, profiles=4)
    stamps = times(data)
    assert stamps["created"] == stamps["updated"]
    assert stamps["created"][0] == "2024-01-01T00:00:00+00:00"
    assert stamps["datetime"][0] == stamps["datetime"][1] == "2024-01-01T00:00:00+00:00"
    assert "spike" not in data.notes["bulk"] and "empty" not in data.notes["bulk"]
    with pytest.raises(ValueError, match="shape"):
        SimData.bulk(events=1, profiles=1, shape="spiky")


@pytest.mark.parametrize("shape", ["growth", "bulk_import"])
def test_growth_sparse_early_years_an_empty_year_then_growth(shape: str) -> None:
    data = SimData.bulk(events=40_000, profiles=8_000, seed=1, shape=shape)
    assert (
        data.notes["bulk"]["empty"]
        == EMPTY
        == (
            "2021-01-01T00:00:00+00:00",
            "2022-01-01T00:00:00+00:00",
        )
    )
    for name, values in times(data).items():
        years = Counter(v[:4] for v in values)
        assert "2021" not in years, name
        early = years["2019"] + years["2020"] + years["2022"]
        assert 0 < early < 0.06 * len(values), (name, years)
        if name == "updated":
            continue  # the later of two draws: skewed to the present, as intended
        assert min(values)[:4] == "2019", name
        growth = [years[y] for y in ("2023", "2024", "2025", "2026")]
        if shape == "bulk_import":
            growth[1] -= data.notes["bulk"]["spike"]["event" if name == "datetime" else "profile"][
                "count"
            ]
        assert growth == sorted(growth) and growth[-1] > 8 * growth[0], (name, years)


def test_bulk_import_spikes_share_one_second() -> None:
    data = SimData.bulk(events=20_000, profiles=4_000, seed=2, shape="bulk_import")
    spike = data.notes["bulk"]["spike"]
    assert spike == {
        "profile": {"second": "2024-05-14T03:17:42+00:00", "count": 1_600},  # 40 %
        "event": {"second": "2024-05-14T03:21:09+00:00", "count": 2_000},  # 10 %
    }
    stamps = times(data)
    for name, kind in (("created", "profile"), ("updated", "profile"), ("datetime", "event")):
        top, count = Counter(stamps[name]).most_common(1)[0]
        assert (top, count) == (spike[kind]["second"], spike[kind]["count"]), name
    # The imported profiles are one block of ids, created and updated together.
    profiles = data.get("profile")
    at = [
        i
        for i, p in enumerate(profiles)
        if p["attributes"]["created"] == spike["profile"]["second"]
    ]
    assert at == list(range(at[0], at[0] + 1_600))
    assert all(profiles[i]["attributes"]["updated"] == spike["profile"]["second"] for i in at)
    # The rule: 20,000 from 50,000 profiles and 200,000 events (the benchmarks' sizes) on.
    assert IMPORT_SPIKE["profile"].size(50_000) == IMPORT_SPIKE["profile"].size(90_000) == 20_000
    assert IMPORT_SPIKE["event"].size(200_000) == IMPORT_SPIKE["event"].size(10**6) == 20_000
    assert IMPORT_SPIKE["profile"].size(1) == 0


def test_twenty_thousand_profiles_in_one_second_page_once_each_over_http() -> None:
    data = SimData.bulk(events=1_000, profiles=50_000, seed=0, shape="bulk_import")
    second = data.notes["bulk"]["spike"]["profile"]["second"]
    assert data.notes["bulk"]["spike"]["profile"]["count"] == 20_000
    at = datetime.fromisoformat(second)
    window = (
        f"greater-than(updated,{(at - timedelta(seconds=1)).isoformat()}),"
        f"less-than(updated,{(at + timedelta(seconds=1)).isoformat()})"
    )
    with KlaviyoSimulator(data=data) as sim, requests.Session() as http:
        http.headers.update(headers_for(sim.api_key))
        query = {"filter": window, "sort": "updated", "page[size]": "100"}
        pages = walk(http, sim.url + "/api/profiles", query)
        ids = ids_of(pages)
        assert len(ids) == len(set(ids)) == 20_000
        assert {p["attributes"]["updated"] for page in pages for p in page["data"]} == {second}
