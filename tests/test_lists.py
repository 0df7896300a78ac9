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
