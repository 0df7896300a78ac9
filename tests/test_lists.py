"""lists and segments with their members: keys, member fields, state per parent."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.conftest import run_tap, run_tap_until_failure

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


def activations(run: Any, stream: str) -> list[int]:
    return [
        m["version"]
        for m in run.messages
        if m["type"] == "ACTIVATE_VERSION" and m["stream"] == stream
    ]


def aged(state: dict[str, Any], stream: str, days: float) -> dict[str, Any]:
    """``state`` as if the stream's last full read had been ``days`` ago."""
    state = copy.deepcopy(state)
    last = datetime.fromisoformat(state["bookmarks"][stream]["full_refreshed_at"])
    state["bookmarks"][stream]["full_refreshed_at"] = (last - timedelta(days=days)).isoformat()
    return state


def test_members_who_left_are_dropped_by_the_weekly_full_read(
    sim: Any, config: dict[str, Any]
) -> None:
    streams = ["lists", "list_members"]
    first = run_tap(config, streams=streams)
    # The first run reads every member anyway: it says so to the target.
    (version,) = activations(first, "list_members")
    last_record = max(
        i
        for i, m in enumerate(first.messages)
        if m["type"] == "RECORD" and m["stream"] == "list_members"
    )
    activate = next(i for i, m in enumerate(first.messages) if m["type"] == "ACTIVATE_VERSION")
    assert activate > last_record, "ACTIVATE_VERSION only after every member"
    assert {
        m["version"]
        for m in first.messages
        if m.get("stream") == "list_members" and m["type"] == "RECORD"
    } == {version}

    target = sorted(sim.data.ids("list"), key=lambda i: -len(sim.data.members("list", i)))[0]
    leaver = sorted(sim.data.members("list", target))[0]
    sim.data.advance(60)
    sim.data.remove_list_member(target, leaver)

    # Within the week: incremental, nothing dropped.
    second = run_tap(config, streams=streams, state=first.state)
    assert activations(second, "list_members") == []
    assert len(second.records.get("list_members", [])) < len(first.records["list_members"])

    # A week later: every member again, under a new version, and then ACTIVATE_VERSION,
    # so the target drops what was not sent: the membership that ended.
    week_later = aged(second.state, "list_members", 7)
    last_full_read = week_later["bookmarks"]["list_members"]["full_refreshed_at"]
    third = run_tap(config, streams=streams, state=week_later)
    (newer,) = activations(third, "list_members")
    assert newer > version
    pairs = {(r["list_id"], r["profile_id"]) for r in third.records["list_members"]}
    expected = {
        (group, profile)
        for group in sim.data.ids("list")
        for profile in sim.data.members("list", group)
    }
    assert pairs == expected and (target, leaver) not in pairs
    assert third.state["bookmarks"]["list_members"]["full_refreshed_at"] > last_full_read


def test_a_full_read_cut_short_drops_nothing(sim: Any, config: dict[str, Any]) -> None:
    from klaviyo_sim import Fault

    first = run_tap(config, streams=["lists", "list_members"])
    due = aged(first.state, "list_members", 8)
    sim.faults.add(Fault(path_pattern=r"/profiles$", status=400, after=3, times=None))
    run, error = run_tap_until_failure(
        {**config, "max_workers": 1}, streams=["lists", "list_members"], state=due
    )
    assert error is not None
    assert run.records["list_members"], "some members were read before the failure"
    assert activations(run, "list_members") == []
    saved = run.state["bookmarks"]["list_members"]["full_refreshed_at"]
    assert saved == due["bookmarks"]["list_members"]["full_refreshed_at"]


@pytest.mark.parametrize(
    ("parent", "child", "kind"),
    [("lists", "list_sizes", "list"), ("segments", "segment_sizes", "segment")],
)
@pytest.mark.usefixtures("virtual_clock")
def test_sizes_once_a_day_per_group(
    sim: Any, config: dict[str, Any], parent: str, child: str, kind: str
) -> None:
    key = f"{kind}_id"
    first = run_tap(config, streams=[parent, child])
    rows = {r[key]: r for r in first.records[child]}
    assert set(rows) == set(sim.data.ids(kind))
    for group, row in rows.items():
        assert row["profile_count"] == len(sim.data.members(kind, group))
        assert row["date"] == row["observed_at"][:10]
    # One request per group, with the additional field (a 15-a-minute quota).
    asked = [r for r in sim.requests if r.path.startswith(f"/api/{parent}/")]
    assert len(asked) == len(rows)
    assert all(r.query.get(f"additional-fields[{kind}]") == ["profile_count"] for r in asked)

    # The same day: every snapshot is younger than sizes_refresh_hours, nothing is asked.
    sim.requests.clear()
    second = run_tap(config, streams=[parent, child], state=first.state)
    assert not second.records.get(child)
    assert not [r for r in sim.requests if r.path.startswith(f"/api/{parent}/")]

    # A day later: a new snapshot of every group.
    state = copy.deepcopy(second.state)
    for partition in state["bookmarks"][child]["partitions"]:
        then = datetime.fromisoformat(partition["replication_key_value"]) - timedelta(days=1)
        partition["replication_key_value"] = then.isoformat()
    third = run_tap(config, streams=[parent, child], state=state)
    assert {r[key] for r in third.records[child]} == set(rows)
