"""Custom objects (README "Custom objects"): object types (unpaginated), their schemas and
records (paginated), data sources, the custom-objects:read scope."""

from __future__ import annotations

from urllib.parse import quote

import pytest
import requests

from klaviyo_sim import KlaviyoSimulator
from klaviyo_sim.tests.conftest import VirtualClock, error_of, get, headers_for, ids_of, walk

SCOPE = "custom-objects:read"


def types(sim: KlaviyoSimulator) -> dict[str, str]:
    return sim.data.notes["objects"]["types"]


def test_object_types_come_in_one_unpaginated_response(
    sim: KlaviyoSimulator, http: requests.Session
) -> None:
    body = get(http, sim, "/api/object-types").json()
    assert sorted(t["id"] for t in body["data"]) == sorted(types(sim).values())
    assert set(body["links"]) == {"self"}
    assert {t["attributes"]["status"] for t in body["data"]} == {"active", "draft"}
    for params in ({"page[size]": "2"}, {"page[cursor]": "x"}, {"sort": "title"}):
        response = get(http, sim, "/api/object-types", **params)
        assert response.status_code == 400, params
        assert error_of(response)["source"] == {"parameter": next(iter(params))}
    # The namespace filter (equals only).
    apps = get(http, sim, "/api/object-types", filter="equals(namespace,'custom-objects')")
    assert len(apps.json()["data"]) == 3
    bad = get(http, sim, "/api/object-types", filter="contains(namespace,'custom')")
    assert bad.status_code == 400
    # Schemas come with include=current-schema,draft-schema.
    body = get(http, sim, "/api/object-types", include="current-schema,draft-schema").json()
    included = {s["id"]: s for s in body["included"]}
    for kind in body["data"]:
        rels = kind["relationships"]
        linked = [
            rels[r]["data"]["id"] for r in ("current-schema", "draft-schema") if "data" in rels[r]
        ]
        assert len(linked) == 1 and set(linked) <= set(included)
        schema = included[linked[0]]
        assert schema["attributes"]["status"] == (
            "draft" if kind["attributes"]["status"] == "draft" else "active"
        )
        assert set(schema["attributes"]["required"]) <= {
            p["name"] for p in schema["attributes"]["properties"]
        }


def test_schema_versions_and_current_schema(sim: KlaviyoSimulator, http: requests.Session) -> None:
    loyalty = types(sim)["Loyalty account 💳"]
    versions = get(http, sim, f"/api/object-types/{loyalty}/schema-versions").json()["data"]
    assert len(versions) == 2
    current = get(http, sim, f"/api/object-types/{loyalty}/current-schema").json()["data"]
    assert current["id"] == versions[-1]["id"]
    assert (
        len(current["attributes"]["properties"]) == len(versions[0]["attributes"]["properties"]) + 1
    )
    draft = get(http, sim, f"/api/object-types/{loyalty}/draft-schema").json()
    assert draft["data"] is None
    one = get(http, sim, f"/api/object-schemas/{current['id']}").json()["data"]
    assert one["attributes"] == current["attributes"]


@pytest.mark.parametrize(
    ("size", "pages"), [(None, [20, 20, 5]), ("100", [45]), ("7", [7] * 6 + [3])]
)
def test_object_records_paginate_per_the_spec(
    sim: KlaviyoSimulator, http: requests.Session, size: str | None, pages: list[int]
) -> None:
    loyalty = types(sim)["Loyalty account 💳"]
    query = {"page[size]": size} if size else {}
    walked = walk(http, f"{sim.url}/api/object-types/{loyalty}/object-records", query)
    assert [len(p["data"]) for p in walked] == pages
    ids = ids_of(walked)
    assert ids == sorted(sim.data.notes["objects"]["records"][loyalty])
    assert all(i.startswith(f"{loyalty}:::LOY-") for i in ids)
    record = walked[0]["data"][0]
    assert set(record) == {"type", "id", "attributes", "links"}
    assert set(record["attributes"]) == {"record_properties"}
    relation = walk(
        http, f"{sim.url}/api/object-types/{loyalty}/relationships/object-records", query
    )
    assert ids_of(relation) == ids


def test_object_record_sizes_and_single_records(
    sim: KlaviyoSimulator, http: requests.Session
) -> None:
    loyalty = types(sim)["Loyalty account 💳"]
    url = f"/api/object-types/{loyalty}/object-records"
    for size in ("0", "101", "x"):
        response = get(http, sim, url, **{"page[size]": size})
        assert response.status_code == 400
        assert error_of(response)["source"] == {"parameter": "page[size]"}
    assert get(http, sim, url, filter="equals(id,'x')").status_code == 400  # no filters
    assert get(http, sim, url, sort="id").status_code == 400  # no sort
    empty = types(sim)["Subscription box 📦"]
    assert get(http, sim, f"/api/object-types/{empty}/object-records").json()["data"] == []
    assert get(http, sim, "/api/object-types/NOPE/object-records").status_code == 404
    record_id = sim.data.notes["objects"]["records"][loyalty][3]
    for path_id in (record_id, quote(record_id, safe="")):
        body = get(http, sim, f"/api/object-records/{path_id}").json()
        assert body["data"]["id"] == record_id
        assert body["data"]["attributes"]["record_properties"]["loyalty_id"] == "LOY-0003"


def test_data_sources(sim: KlaviyoSimulator, http: requests.Session) -> None:
    pages = walk(http, sim.url + "/api/data-sources", {"page[size]": "1"})
    assert [len(p["data"]) for p in pages] == [1, 1]
    sources = [s for p in pages for s in p["data"]]
    assert {s["attributes"]["visibility"] for s in sources} == {"private", "shared"}
    one = get(http, sim, f"/api/data-sources/{sources[0]['id']}").json()["data"]
    assert one == sources[0]


def test_custom_objects_need_their_scope(sim: KlaviyoSimulator) -> None:
    loyalty = types(sim)["Loyalty account 💳"]
    record = sim.data.notes["objects"]["records"][loyalty][0]
    paths = [
        "/api/object-types",
        f"/api/object-types/{loyalty}",
        f"/api/object-types/{loyalty}/object-records",
        f"/api/object-records/{record}",
        "/api/data-sources",
    ]
    sim.add_key("pk_no_objects", sim.spec.scopes - {SCOPE})
    sim.add_key("pk_objects_only", {SCOPE})
    for path in paths:
        denied = requests.get(sim.url + path, headers=headers_for("pk_no_objects"), timeout=5)
        assert denied.status_code == 403, path
        assert error_of(denied)["code"] == "permission_denied"
        allowed = requests.get(sim.url + path, headers=headers_for("pk_objects_only"), timeout=5)
        assert allowed.status_code == 200, path


def test_custom_objects_rate_limit(clock: VirtualClock) -> None:
    with KlaviyoSimulator(rate_limits=True, clock=clock) as limited, requests.Session() as http:
        http.headers.update(headers_for(limited.api_key))
        statuses = [
            http.get(limited.url + "/api/object-types", timeout=5).status_code for _ in range(4)
        ]
        assert statuses == [200, 200, 200, 429]  # 3/s
        clock.sleep(1)
        response = http.get(limited.url + "/api/object-types", timeout=5)
        assert response.status_code == 200 and response.headers["RateLimit-Limit"] == "60"
