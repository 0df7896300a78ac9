"""coupons and their codes: every code once, under its coupon; a missing scope."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.conftest import run_tap


def test_every_code_of_every_coupon(sim: Any, config: dict[str, Any]) -> None:
    run = run_tap(config, streams=["coupons", "coupon_codes"])
    assert sorted(run.ids("coupons")) == sorted(sim.data.ids("coupon"))
    codes = {c["id"]: c for c in sim.data.get("coupon-code")}
    emitted = run.ids("coupon_codes")
    assert len(emitted) == len(set(emitted)) and set(emitted) == set(codes)
    owner = {code: coupon for coupon, ids in sim.data.notes["coupon_codes"].items() for code in ids}
    for record in run.records["coupon_codes"]:
        assert record["coupon_id"] == owner[record["id"]]
        code = codes[record["id"]]
        assert record["unique_code"] == code["attributes"]["unique_code"]
        profile = code.get("relationships", {}).get("profile", {}).get("data")
        assert record.get("profile_id") == (profile["id"] if profile else None)
    # Full table: no bookmarks, one request per coupon.
    assert "replication_key_value" not in str(run.state["bookmarks"].get("coupon_codes", {}))
    per_coupon = [r for r in sim.requests if r.path.endswith("/coupon-codes")]
    assert len(per_coupon) == len(sim.data.ids("coupon"))


@pytest.mark.parametrize("workers", [1, 8])
def test_codes_skipped_with_one_warning_when_their_scope_is_missing(
    sim: Any, config: dict[str, Any], caplog: pytest.LogCaptureFixture, workers: int
) -> None:
    sim.add_key("pk_no_codes", {"coupons:read"})
    settings = {**config, "api_key": "pk_no_codes", "ignore_forbidden_streams": True}
    with caplog.at_level(logging.WARNING):
        run = run_tap({**settings, "max_workers": workers}, streams=["coupons", "coupon_codes"])
    assert sorted(run.ids("coupons")) == sorted(sim.data.ids("coupon"))
    assert "coupon_codes" not in run.records
    skipped = [r.getMessage() for r in caplog.records if "Skipping stream" in r.getMessage()]
    assert len(skipped) == 1 and "coupon-codes:read" in skipped[0]
    if workers == 1:
        refused = [r for r in sim.requests if r.path.endswith("/coupon-codes")]
        assert len(refused) == 1, "the other coupons' codes are not asked for again"
