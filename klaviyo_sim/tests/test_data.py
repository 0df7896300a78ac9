"""Changes to the store show up in later requests."""

from __future__ import annotations

import requests

from klaviyo_sim import KlaviyoSimulator
from klaviyo_sim.seed import PROFILE_UPDATED_TIE
from klaviyo_sim.tests.conftest import headers_for, ids_of, walk


def test_mutations_show_up_in_later_requests() -> None:
    with KlaviyoSimulator() as fresh, requests.Session() as http:
        http.headers.update(headers_for(fresh.api_key))
        url = fresh.url + "/api/profiles"
        newer = {"filter": f"greater-than(updated,{PROFILE_UPDATED_TIE})", "page[size]": "100"}
        before = set(ids_of(walk(http, url, newer)))
        target = fresh.data.notes["profile_updated_tie"]["ids"][0]
        fresh.data.advance(60)
        updated = fresh.data.update("profile", target, first_name="Changed ✓")
        assert updated["attributes"]["updated"] == "2026-11-20T12:01:00+00:00"
        fresh.data.add(
            "profile",
            {
                "type": "profile",
                "id": "01ZZZZZZZZZZZZZZZZZZZZZZZZ",
                "attributes": {
                    "email": "new@example.com",
                    "created": fresh.data.now_iso(),
                    "updated": fresh.data.now_iso(),
                },
            },
        )
        gone = sorted(before)[0]
        fresh.data.delete("profile", gone)
        after = set(ids_of(walk(http, url, newer)))
        assert after == (before - {gone}) | {target, "01ZZZZZZZZZZZZZZZZZZZZZZZZ"}
        single = http.get(f"{url}/{target}", timeout=5).json()["data"]
        assert single["attributes"]["first_name"] == "Changed ✓"
        assert http.get(f"{url}/{gone}", timeout=5).status_code == 404
