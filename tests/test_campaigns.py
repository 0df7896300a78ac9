"""campaigns over every channel, archived too; their messages and tags."""

from __future__ import annotations

import logging
from typing import Any

from tests.conftest import run_tap


def test_campaigns_of_every_channel_archived_or_not(sim: Any, config: dict[str, Any]) -> None:
    run = run_tap(config, streams=["campaigns", "campaign_messages", "campaign_tags"])
    campaigns = sim.data.get("campaign")
    assert sorted(run.ids("campaigns")) == sorted(c["id"] for c in campaigns)
    records = {r["id"]: r for r in run.records["campaigns"]}
    assert {r["channel"] for r in records.values()} == {"email", "sms", "mobile_push"}
    assert any(r["archived"] for r in records.values())
    assert any(not r["archived"] for r in records.values())
    for campaign in campaigns:
        assert records[campaign["id"]]["archived"] == campaign["attributes"]["archived"]
    # Six partitions (3 channels x archived), each with its own bookmark.
    partitions = run.state["bookmarks"]["campaigns"]["partitions"]
    assert len(partitions) == 6


def test_campaign_messages_and_tags_belong_to_their_campaign(
    sim: Any, config: dict[str, Any]
) -> None:
    run = run_tap(config, streams=["campaigns", "campaign_messages", "campaign_tags"])
    expected_messages = {
        (campaign["id"], ref[1])
        for campaign in sim.data.get("campaign")
        for ref in sim.data.targets("campaign", campaign["id"], "campaign-messages")
    }
    emitted = {(r["campaign_id"], r["id"]) for r in run.records["campaign_messages"]}
    assert emitted == expected_messages
    expected_tags = {
        (campaign["id"], ref[1])
        for campaign in sim.data.get("campaign")
        for ref in sim.data.targets("campaign", campaign["id"], "tags")
    }
    assert expected_tags, "the seed tags some campaigns"
    tags = {(r["campaign_id"], r["tag_id"]) for r in run.records["campaign_tags"]}
    assert tags == expected_tags
    # Tags come with the campaigns (include=tags): no request per campaign.
    assert not [r for r in sim.requests if r.path.endswith("/tags")]


def test_archived_campaigns_out_of_sort_order_are_all_written_and_bookmarked_at_the_max(
    sim: Any, config: dict[str, Any], caplog: Any
) -> None:
    """Klaviyo returns archived email campaigns slightly out of `updated_at` order
    (the simulator's reality layer): with the campaigns alone, each page goes out at once
    and the SDK would stop the run over a record older than the bookmark."""
    archived_email = set(sim.data.notes["reality"]["archived_email_campaigns"])
    with caplog.at_level(logging.WARNING):
        run = run_tap(config, streams=["campaigns"])
    campaigns = sim.data.get("campaign")
    assert sorted(run.ids("campaigns")) == sorted(c["id"] for c in campaigns)
    emitted = [r for r in run.records["campaigns"] if r["id"] in archived_email]
    stamps = [r["updated_at"] for r in emitted]
    assert stamps != sorted(stamps), "the pages came out of order"
    partition = next(
        p
        for p in run.state["bookmarks"]["campaigns"]["partitions"]
        if p["context"] == {"channel": "email", "archived": True}
    )
    # The bookmark is the largest value written, whatever the order.
    email_archived = [
        r["updated_at"]
        for r in run.records["campaigns"]
        if r["channel"] == "email" and r["archived"]
    ]
    assert partition["replication_key_value"] == max(email_archived)
    warnings = [r.getMessage() for r in caplog.records if "out of order" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].startswith("Stream 'campaigns': Klaviyo sent")
