"""lists and segments with their members: keys, member fields, state per parent."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import run_tap

GROUPS = [("lists", "list_members", "list"), ("segments", "segment_members", "segment")]


@pytest.mark.parametrize(("parent", "child", "kind"), GROUPS)
@pytest.mark.parametrize("workers", [1, 4])
def test_members_of_every_group(
    sim: Any, config: dict[str, Any], parent: str, child: str, kind: str, workers: int
) -> None:
    run = run_tap({**config, "max_workers": workers}, streams=[parent, child])
    groups = sim.data.get(kind)
    assert sorted(run.ids(parent)) == sorted(g["id"] for g in groups)
    key = f"{kind}_id"
    profiles = {p["id"]: p["attributes"] for p in sim.data.get("profile")}
    emitted = {(r[key], r["profile_id"]): r for r in run.records.get(child, [])}
    expected = {
        (group["id"], profile_id): joined
        for group in groups
        for profile_id, joined in sim.data.members(kind, group["id"]).items()
    }
    assert len(run.records.get(child, [])) == len(emitted), "a member was emitted twice"
    assert set(emitted) == set(expected)
    for pair, record in emitted.items():
        assert record["joined_group_at"] == expected[pair]
        attributes = profiles[pair[1]]
        for name in ("email", "phone_number", "external_id"):
            assert record[name] == attributes.get(name)
    partitions = run.state["bookmarks"][child]["partitions"]
    with_members = {g for g, _ in expected}
    assert {p["context"][key] for p in partitions} >= with_members
    for partition in partitions:
        group = partition["context"][key]
        joined = [j for (g, _), j in expected.items() if g == group]
        if joined:
            assert partition["replication_key_value"] == max(joined)


def test_new_member_found_on_next_run_though_its_list_did_not_change(
    sim: Any, config: dict[str, Any]
) -> None:
    first = run_tap(config, streams=["lists", "list_members"])
    target = sim.data.get("list")[0]["id"]
    newcomer = next(
        p["id"] for p in sim.data.get("profile") if p["id"] not in sim.data.members("list", target)
    )
    sim.data.advance(60)
    sim.data.add_list_member(target, newcomer, sim.data.now_iso())
    second = run_tap(config, streams=["lists", "list_members"], state=first.state)
    pairs = {(r["list_id"], r["profile_id"]) for r in second.records["list_members"]}
    assert (target, newcomer) in pairs
    assert len(pairs) < len(first.records["list_members"])


@pytest.mark.parametrize(
    ("parent", "tags", "kind"),
    [("lists", "list_tags", "list"), ("segments", "segment_tags", "segment")],
)
def test_group_tags_come_with_the_groups(
    sim: Any, config: dict[str, Any], parent: str, tags: str, kind: str
) -> None:
    run = run_tap(config, streams=[parent, tags])
    key = f"{kind}_id"
    expected = {
        (group["id"], tag)
        for group in sim.data.get(kind)
        for _, tag in sim.data.targets(kind, group["id"], "tags")
    }
    assert expected, "the seed tags some groups"
    pairs = [(r[key], r["tag_id"]) for r in run.records[tags]]
    assert len(pairs) == len(set(pairs)) and set(pairs) == expected
    # include=tags on the groups' own requests: no request per group.
    assert not [r for r in sim.requests if "/tags" in r.path]
    assert all(r.query.get("include") == ["tags"] for r in sim.requests)


def test_group_tags_without_the_tag_table_do_not_include_tags(
    sim: Any, config: dict[str, Any]
) -> None:
    run_tap(config, streams=["lists"])
    assert sim.requests and not [r for r in sim.requests if "include" in r.query]


def test_tagging_a_list_reaches_the_next_run_though_the_list_did_not_change(
    sim: Any, config: dict[str, Any]
) -> None:
    first = run_tap(config, streams=["lists", "list_tags"])
    target = sim.data.get("list")[-1]["id"]
    tag = sim.data.get("tag")[-1]["id"]
    assert (target, tag) not in {(r["list_id"], r["tag_id"]) for r in first.records["list_tags"]}
    updated = sim.data.get_one("list", target)["attributes"]["updated"]
    sim.data.link("list", target, "tags", tag)
    assert sim.data.get_one("list", target)["attributes"]["updated"] == updated
    second = run_tap(config, streams=["lists", "list_tags"], state=first.state)
    pairs = {(r["list_id"], r["tag_id"]) for r in second.records["list_tags"]}
    assert (target, tag) in pairs
    # Every list's current tags come again: the table is whole after every run.
    assert pairs == {(r["list_id"], r["tag_id"]) for r in first.records["list_tags"]} | {
        (target, tag)
    }
