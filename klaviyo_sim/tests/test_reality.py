"""The reality layer (README "Reality layer"): each quirk over HTTP, the only deviations from
the spec, the seed's reality variant."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from klaviyo_sim import KlaviyoSimulator, SimData, reality
from klaviyo_sim.seed.reality import ARCHIVED_EMAIL_CAMPAIGNS, BOUNDARY_PAIR
from klaviyo_sim.tests.conftest import (
    FULL_SPEC,
    error_of,
    get,
    headers_for,
    ids_of,
    spec_pages,
    walk,
)

ARCHIVED_EMAIL = "equals(messages.channel,'email'),equals(archived,true)"
SPACED = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?[+-]\d{2}:\d{2}$")


@pytest.fixture(scope="module")
def real() -> Iterator[KlaviyoSimulator]:
    with KlaviyoSimulator(seed=0, reality=True) as running:
        yield running


@pytest.fixture
def rhttp(real: KlaviyoSimulator) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers.update(headers_for(real.api_key))
        yield session


def resources(pages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [item for page in pages for item in page["data"]]


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace(" ", "T"))


# -- switching it on and off ---------------------------------------------------------------------


def test_reality_is_off_by_default_and_can_be_switched_while_running() -> None:
    with KlaviyoSimulator() as sim, requests.Session() as http:
        http.headers.update(headers_for(sim.api_key))
        assert sim.reality is False
        assert sim.data.count("campaign") == 15  # the default seed, not its reality variant

        def last_page() -> dict[str, Any]:
            return walk(http, sim.url + "/api/profiles", {"page[size]": "100"})[-1]

        plain = last_page()
        assert set(plain["links"]) == {"self"}
        assert all("anonymous_id" not in p["attributes"] for p in plain["data"])
        sim.reality = True
        real = last_page()
        assert real["links"]["next"] is None and real["links"]["prev"] is None
        assert all("anonymous_id" in p["attributes"] for p in real["data"])
        sim.reality = False
        assert last_page() == plain


def test_render_cache_follows_the_switch() -> None:
    queries = [
        ("/api/profiles", {"page[size]": "100"}),
        ("/api/catalog-variants", {}),
        ("/api/campaigns", {"filter": ARCHIVED_EMAIL, "sort": "updated_at", "page[size]": "7"}),
    ]
    with (
        KlaviyoSimulator(reality=True) as plain,
        KlaviyoSimulator(reality=True, render_cache=500) as cached,
    ):
        for on in (True, False, True):
            plain.reality = cached.reality = on
            for path, params in queries:
                bodies = []
                for server in (plain, cached):
                    got = requests.get(
                        server.url + path, params=params, headers=headers_for(server.api_key)
                    )
                    assert got.status_code == 200, got.text
                    bodies.append(got.content.replace(server.url.encode(), b"URL"))
                assert bodies[0] == bodies[1], (on, path)
                assert (b"anonymous_id" in bodies[0]) == (on and path == "/api/profiles")


def test_reality_seed_adds_archived_email_campaigns_and_keeps_every_default_record() -> None:
    default, real = SimData.default(0), SimData.default(0, reality=True)
    for kind in default.types():
        ids = set(default.ids(kind))
        assert [r for r in real.get(kind) if r["id"] in ids] == default.get(kind), kind
    added = real.notes["reality"]["archived_email_campaigns"]
    assert len(added) == ARCHIVED_EMAIL_CAMPAIGNS
    assert real.count("campaign") == 15 + ARCHIVED_EMAIL_CAMPAIGNS
    assert real.count("campaign-message") == 15 + ARCHIVED_EMAIL_CAMPAIGNS
    assert len(real.notes["campaigns"]["archived"]) == 4 + ARCHIVED_EMAIL_CAMPAIGNS
    assert SimData.default(0, reality=True).get("campaign") == real.get("campaign")
    with KlaviyoSimulator(reality=True) as sim:
        assert sim.data.count("campaign") == 15 + ARCHIVED_EMAIL_CAMPAIGNS


# -- attributes beyond the spec ----------------------------------------------------------------


def test_profiles_carry_anonymous_id_wherever_they_are_listed(
    real: KlaviyoSimulator, rhttp: requests.Session
) -> None:
    notes = real.data.notes
    paths = [
        "/api/profiles",
        f"/api/lists/{notes['list_joined_tie']['list_id']}/profiles",
        f"/api/segments/{notes['segment_joined_tie']['segment_id']}/profiles",
    ]
    for path in paths:
        profiles = resources(walk(rhttp, real.url + path, {"page[size]": "100"}))
        values = [p["attributes"]["anonymous_id"] for p in profiles]
        assert any(isinstance(v, str) and v for v in values), path
        assert None in values, path
    # Included profiles carry it too; the same profile always carries the same value.
    events = get(rhttp, real, "/api/events", include="profile").json()
    for profile in events["included"]:
        again = get(rhttp, real, f"/api/profiles/{profile['id']}").json()["data"]
        assert again["attributes"]["anonymous_id"] == profile["attributes"]["anonymous_id"]
    # Sparse fieldsets leave it out like any other attribute; the store never has it.
    sparse = get(rhttp, real, "/api/profiles", **{"fields[profile]": "email"}).json()
    assert all(set(p["attributes"]) == {"email"} for p in sparse["data"])
    assert all("anonymous_id" not in p["attributes"] for p in real.data.get("profile"))


def test_metric_integration_category_is_sometimes_an_object(
    real: KlaviyoSimulator, rhttp: requests.Session
) -> None:
    metrics = get(rhttp, real, "/api/metrics").json()["data"]
    integrations = [m["attributes"]["integration"] for m in metrics]
    shown = [i for i in integrations if i is not None]
    assert all({"object", "key", "id", "name", "category"} <= set(i) for i in shown)
    wrapped = [i for i in shown if isinstance(i["category"], dict)]
    assert wrapped and any(isinstance(i["category"], str) for i in shown)
    assert all(isinstance(i["category"]["category"], str) for i in wrapped)
    # The filter still sees the stored string, whichever way it is sent.
    name = wrapped[0]["category"]["category"]

    def category(metric: dict[str, Any]) -> Any:
        value = (metric["attributes"]["integration"] or {}).get("category")
        return value["category"] if isinstance(value, dict) else value

    found = get(rhttp, real, "/api/metrics", filter=f"equals(integration.category,'{name}')")
    assert {m["id"] for m in found.json()["data"]} == {
        m["id"] for m in metrics if category(m) == name
    }


def test_templates_carry_the_legacy_company_id(
    real: KlaviyoSimulator, rhttp: requests.Session
) -> None:
    templates = resources(walk(rhttp, real.url + "/api/templates", {}))
    account = get(rhttp, real, "/api/accounts").json()["data"][0]
    assert len(templates) == 12
    assert {t["attributes"]["company_id"] for t in templates} == {
        account["attributes"]["public_api_key"]
    }


# -- nulls and links ---------------------------------------------------------------------------


def test_null_quirks_come_from_the_table(real: KlaviyoSimulator, rhttp: requests.Session) -> None:
    templates = resources(walk(rhttp, real.url + "/api/templates", {}))
    nulled = [t for t in templates if t["attributes"]["html"] is None]
    assert nulled
    assert all(t["attributes"]["editor_type"] == "SYSTEM_DRAGGABLE" for t in nulled)
    assert any(
        t["attributes"]["editor_type"] == "SYSTEM_DRAGGABLE" and t["attributes"]["html"]
        for t in templates
    )
    for template in nulled:
        assert real.data.get_one("template", template["id"])["attributes"]["html"]
    campaigns = []
    for channel in ("email", "sms", "mobile_push"):
        for archived in ("true", "false"):
            query = {"filter": f"equals(messages.channel,'{channel}'),equals(archived,{archived})"}
            campaigns += resources(walk(rhttp, real.url + "/api/campaigns", query))
    options = [c["attributes"]["send_options"] for c in campaigns]
    assert None in options and any(isinstance(o, dict) for o in options)
    # Exactly the rows of the table, nothing else.
    assert {(q.resource_type, q.path) for q in reality.NULLS} == {
        ("template", ("html",)),
        ("campaign", ("send_options",)),
    }


def test_last_page_of_every_collection_has_next_and_prev_null(
    real: KlaviyoSimulator, rhttp: requests.Session
) -> None:
    campaign = real.data.ids("campaign")[0]
    for path, params in [
        ("/api/profiles", {"page[size]": "50"}),
        ("/api/segments", {}),
        ("/api/events", {"page[size]": "1000"}),
        ("/api/metrics", {}),
        (f"/api/campaigns/{campaign}/campaign-messages", {}),
        (f"/api/campaigns/{campaign}/relationships/tags", {}),
    ]:
        pages = walk(rhttp, real.url + path, params)
        for page in pages[:-1]:
            assert page["links"]["next"].startswith(real.url), path
            assert "prev" not in page["links"]
        assert pages[-1]["links"] == {
            "self": pages[-1]["links"]["self"],
            "next": None,
            "prev": None,
        }


def test_catalog_variants_send_item_as_links_only(
    real: KlaviyoSimulator, rhttp: requests.Session
) -> None:
    variants = resources(walk(rhttp, real.url + "/api/catalog-variants", {}))
    assert len(variants) == 20
    for variant in variants:
        item = variant["relationships"]["item"]
        assert set(item) == {"links"}
        assert set(item["links"]) == {"self", "related"}
    # Only that operation: the item's own variants endpoint still links each to its item,
    # and the filter on item.id still works.
    item_id = real.data.notes["catalog"]["items"][0]
    own = get(rhttp, real, f"/api/catalog-items/{item_id}/variants").json()["data"]
    assert own and all(v["relationships"]["item"]["data"]["id"] == item_id for v in own)
    found = get(rhttp, real, "/api/catalog-variants", filter=f'equals(item.id,"{item_id}")')
    assert {v["id"] for v in found.json()["data"]} == {v["id"] for v in own}
    assert [(q.operation_id, q.relationship) for q in reality.LINKS_ONLY] == [
        ("get_catalog_variants", "item")
    ]


# -- date-times --------------------------------------------------------------------------------


def test_some_datetimes_are_space_separated_and_the_same_instants(
    sim: KlaviyoSimulator, real: KlaviyoSimulator, rhttp: requests.Session, http: requests.Session
) -> None:
    query = {"page[size]": "37", "filter": "greater-or-equal(datetime,2025-01-01T00:00:00Z)"}
    spaced = walk(rhttp, real.url + "/api/events", query)
    plain = walk(http, sim.url + "/api/events", query)
    assert ids_of(spaced) == ids_of(plain)  # same filter result, same order, same pages
    values = [e["attributes"]["datetime"] for e in resources(spaced)]
    assert any(SPACED.match(v) for v in values)
    assert any("T" in v for v in values)
    for event, original in zip(resources(spaced), resources(plain), strict=True):
        when = instant(event["attributes"]["datetime"])
        assert when == instant(original["attributes"]["datetime"])
        assert when.timestamp() == event["attributes"]["timestamp"]
    fields = {"additional-fields[profile]": "subscriptions", "page[size]": "100"}
    profiles = resources(walk(rhttp, real.url + "/api/profiles", fields))
    stamps = [
        p["attributes"]["subscriptions"]["email"]["marketing"]["consent_timestamp"]
        for p in profiles
    ]
    assert any(s and SPACED.match(s) for s in stamps)
    for profile, stamp in zip(profiles, stamps, strict=True):
        stored = real.data.get_one("profile", profile["id"])["attributes"]
        expected = stored["subscriptions"]["email"]["marketing"]["consent_timestamp"]
        assert (stamp is None) == (expected is None)
        assert stamp is None or instant(stamp) == instant(expected)


# -- unsorted pages ----------------------------------------------------------------------------


def test_archived_email_campaigns_come_back_slightly_unsorted(
    real: KlaviyoSimulator, rhttp: requests.Session
) -> None:
    url = real.url + "/api/campaigns"
    query = {"filter": ARCHIVED_EMAIL, "sort": "updated_at"}
    pages = walk(rhttp, url, query)
    assert [len(p["data"]) for p in pages] == [100, ARCHIVED_EMAIL_CAMPAIGNS + 2 - 100]
    shown = resources(pages)
    stamps = [c["attributes"]["updated_at"] for c in shown]
    inversions = [i for i in range(len(stamps) - 1) if stamps[i] > stamps[i + 1]]
    assert 5 <= len(inversions) <= len(stamps) // 3
    # Only neighbours change places: sorting moves nothing by more than one position.
    order = sorted(range(len(shown)), key=lambda i: (stamps[i], shown[i]["id"]))
    assert all(abs(position - i) <= 1 for position, i in enumerate(order))
    # Across the page boundary: the 101st record is on the first page, the 100th on the next.
    before, after = real.data.notes["reality"]["boundary_pair"]
    assert BOUNDARY_PAIR == (99, 100)
    assert pages[0]["data"][-1]["id"] == after
    assert pages[1]["data"][0]["id"] == before
    assert stamps[99] > stamps[100]
    # The same query with the layer off, and other queries with it on, are sorted.
    real.reality = False
    try:
        plain = ids_of(walk(rhttp, url, query))
    finally:
        real.reality = True
    assert sorted(plain) == sorted(c["id"] for c in shown) and plain != ids_of(pages)
    for other in (
        {"filter": ARCHIVED_EMAIL, "sort": "-updated_at"},
        {"filter": ARCHIVED_EMAIL, "sort": "created_at"},
        {"filter": "equals(messages.channel,'email'),equals(archived,false)", "sort": "updated_at"},
        {"filter": "equals(messages.channel,'sms'),equals(archived,true)", "sort": "updated_at"},
    ):
        field = other["sort"].lstrip("-")
        values = [c["attributes"][field] for c in resources(walk(rhttp, url, other))]
        assert values == sorted(values, reverse=other["sort"].startswith("-")), other


@pytest.mark.parametrize("size", [1, 2, 3, 7, 10, 99, 100])
def test_keyset_pages_return_every_unsorted_campaign_exactly_once(
    real: KlaviyoSimulator, rhttp: requests.Session, size: int
) -> None:
    url = real.url + "/api/campaigns"
    everything = set(real.data.notes["campaigns"]["email"]) & set(
        real.data.notes["campaigns"]["archived"]
    )
    for extra in ("", ",greater-than(updated_at,2021-03-01T00:00:00+00:00)"):
        query = {"filter": ARCHIVED_EMAIL + extra, "sort": "updated_at", "page[size]": str(size)}
        ids = ids_of(walk(rhttp, url, query))
        assert len(ids) == len(set(ids)), (size, extra)
        if not extra:
            assert set(ids) == everything
        else:
            newer = {
                c
                for c in everything
                if instant(real.data.get_one("campaign", c)["attributes"]["updated_at"])
                > instant("2021-03-01T00:00:00+00:00")
            }
            assert set(ids) == newer


def test_partner_is_an_involution_of_neighbours() -> None:
    flags = [False, True, False, True, True, False, True, False, False, True]
    count = len(flags)
    shown = [reality.partner(lambda i: flags[i], i, count) for i in range(count)]
    assert sorted(shown) == list(range(count))
    assert all(shown[shown[i]] == i and abs(shown[i] - i) <= 1 for i in range(count))
    # 1 swaps with 2; 3 and 4 are flagged side by side: neither moves; 6 swaps with 7;
    # 9 is last: nothing to swap with.
    assert shown == [0, 2, 1, 3, 4, 5, 7, 6, 8, 9]


# -- plan-gated endpoints ------------------------------------------------------------------------

WEBHOOK_PATHS = ("/api/webhooks", "/api/webhook-topics")


def _statuses(sim: KlaviyoSimulator, http: requests.Session) -> list[int]:
    hook = sim.data.ids("webhook")[0]
    paths = [*WEBHOOK_PATHS, f"/api/webhooks/{hook}", "/api/webhook-topics/event:klaviyo.sent_sms"]
    return [get(http, sim, path).status_code for path in paths]


def test_webhooks_answer_403_without_advanced_kdp() -> None:
    with (
        KlaviyoSimulator(reality=True, add_ons=()) as sim,
        requests.Session() as http,
    ):
        http.headers.update(headers_for(sim.api_key))
        assert sim.account_add_ons() == frozenset()
        assert _statuses(sim, http) == [403] * 4
        denied = get(http, sim, "/api/webhooks")
        error = error_of(denied)
        assert error["code"] == "permission_denied"
        assert error["title"] == "You do not have permission to perform this action."
        # The detail tells a plan gate from a missing scope (PostHog PR #78134).
        assert "Advanced KDP" in error["detail"]
        assert error["detail"] == reality.PLAN_GATED[0].detail
        sim.add_key("pk_no_webhooks", sim.spec.scopes - {"webhooks:read"})
        scoped = requests.get(sim.url + "/api/webhooks", headers=headers_for("pk_no_webhooks"))
        assert error_of(scoped)["detail"] == "You do not have permission to perform this action."
        # Other endpoints are open; the add-on can be bought while running.
        assert get(http, sim, "/api/accounts").status_code == 200
        sim.add_ons = {reality.ADVANCED_KDP}
        assert _statuses(sim, http) == [200] * 4
        sim.add_ons = []
        assert _statuses(sim, http) == [403] * 4
        # The reality layer's default account has it (README); the layer off gates nothing.
        sim.add_ons = None
        assert sim.account_add_ons() == reality.DEFAULT_ADD_ONS
        assert _statuses(sim, http) == [200] * 4
        sim.add_ons = ()
        sim.reality = False
        assert _statuses(sim, http) == [200] * 4
        with pytest.raises(ValueError, match="unknown add-on"):
            sim.add_ons = {"cdp"}
    assert [g.name for g in reality.PLAN_GATED] == ["webhooks-need-advanced-kdp"]


def test_the_default_reality_account_reads_webhooks(
    real: KlaviyoSimulator, rhttp: requests.Session
) -> None:
    assert real.add_ons is None
    assert _statuses(real, rhttp) == [200] * 4


# -- the spec, and the README -------------------------------------------------------------------


@pytest.mark.skipif(not FULL_SPEC.exists(), reason="the full OpenAPI spec is not available")
def test_the_only_deviations_from_the_spec_are_the_documented_quirks(
    real: KlaviyoSimulator, rhttp: requests.Session
) -> None:
    seen: set[str] = set()
    failures: list[str] = []
    nulls = {(q.resource_type, q.path): q.name for q in reality.NULLS}
    spaced = {(q.resource_type, q.path): q.name for q in reality.SPACE_DATETIMES}
    for operation_id, page, validator in spec_pages(rhttp, real):
        links = page["links"]
        if "next" in links and links["next"] is None:
            assert links.pop("prev") is None and links.pop("next") is None
            seen.add(reality.LAST_PAGE_NULL_LINKS)
        items = page["data"] if isinstance(page["data"], list) else [page["data"]]
        for item in items + page.get("included", []):
            attrs = item.get("attributes", {})
            for extra in reality.EXTRAS:
                if item["type"] == extra.resource_type:
                    attrs.pop(extra.attribute)  # present on every resource of the type
                    seen.add(extra.name)
            for quirk in reality.RESHAPED:
                value: Any = attrs
                for part in quirk.path:
                    value = value.get(part) if isinstance(value, dict) else None
                if item["type"] == quirk.resource_type and isinstance(value, dict):
                    seen.add(quirk.name)
            if operation_id == "get_catalog_variants" and "data" not in item["relationships"].get(
                "item", {"data": None}
            ):
                seen.add(reality.LINKS_ONLY[0].name)
        for error in validator.iter_errors(page):
            names = _explained(page, error, nulls, spaced)
            if names is None:
                failures.append(
                    f"{operation_id} {list(error.absolute_path)}: {error.message[:200]}"
                )
            seen |= names or set()
    assert not failures, "\n".join(failures[:20])
    # Every quirk but the unsorted pages (test_archived_email_campaigns_...) and the plan gates
    # (test_webhooks_answer_403_without_advanced_kdp) shows here.
    hidden = {u.name for u in reality.UNSORTED} | {g.name for g in reality.PLAN_GATED}
    assert seen == set(reality.quirk_names()) - hidden


def _explained(
    page: dict[str, Any],
    error: Any,
    nulls: dict[tuple[str, tuple[str, ...]], str],
    spaced: dict[tuple[str, tuple[str, ...]], str],
) -> set[str] | None:
    """The quirks that explain a validation error, or None when none does.

    ``anyOf`` (the spec's ``oneOf`` and nullable members) is explained by any alternative
    whose every error is explained.
    """
    if error.validator in ("anyOf", "oneOf") and error.context:
        branches: dict[Any, list[Any]] = {}
        for sub in error.context:
            branches.setdefault(sub.schema_path[0], []).append(sub)
        for errors in branches.values():
            found = [_explained(page, sub, nulls, spaced) for sub in errors]
            if all(f is not None for f in found):
                return set().union(*(f for f in found if f is not None))
        return None
    path = list(error.absolute_path)
    if path[:1] == ["data"] and isinstance(page["data"], dict):
        path = ["data", 0, *path[1:]]  # a single resource: as the first of a list
    if len(path) < 4 or path[0] not in ("data", "included") or path[2] != "attributes":
        return None
    owner = page["data"] if isinstance(page["data"], dict) else page[path[0]][path[1]]
    if path[0] == "included":
        owner = page["included"][path[1]]
    key = (owner["type"], tuple(path[3:]))
    if error.instance is None and key in nulls:
        return {nulls[key]}
    if isinstance(error.instance, str) and SPACED.match(error.instance) and key in spaced:
        return {spaced[key]}
    return None


def test_every_quirk_is_documented_in_the_readme() -> None:
    readme = (Path(reality.__file__).parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Reality layer", 1)[1].split("\n## ", 1)[0]
    for name in reality.quirk_names():
        assert f"`{name}`" in section, name
