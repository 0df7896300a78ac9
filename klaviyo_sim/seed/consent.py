"""Consent on the default seed's profiles: global and per-list email suppressions, SMS
consent (``build_consent``, run by ``build_default`` after the family builders).

It draws from a random stream of its own, so every other record of the default seed stays
as it was; it changes only the profiles' ``subscriptions`` (README "Consent and
suppression" says what, and why).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from ..consent import can_receive
from ..data import SimData, iso
from .base import instant

# USER_SUPPRESSED profiles of one bulk suppression job share this second; it is chosen per
# seed so that they take positions BULK_POSITIONS among the globally suppressed profiles in
# ascending suppression.timestamp order (straddling 40, the second boundary of 20-size pages).
BULK_SUPPRESSED = 5
BULK_POSITIONS = (38, 42)
# Three list suppressions (of three profiles) share this second.
LIST_SUPPRESSION_TIE = "2026-02-02T02:02:02+00:00"
SPAM_COMPLAINTS = 4
INVALID_EMAILS = 3
USER_SUPPRESSED = 2
LIST_SUPPRESSED = 10  # profiles with list suppressions; the first 4 have two or three
SMS_UNSUBSCRIBED = 3


def _marketing(profile: dict[str, Any]) -> dict[str, Any]:
    marketing: dict[str, Any] = profile["attributes"]["subscriptions"]["email"]["marketing"]
    return marketing


def _later(rng: random.Random, after: datetime, before: datetime) -> datetime:
    """A whole second in (after, before), or ``after`` plus a minute when there is no room."""
    span = int((before - after).total_seconds())
    if span <= 120:
        return after + timedelta(minutes=1)
    return after + timedelta(seconds=rng.randrange(60, span))


def _first(marketing: dict[str, Any]) -> datetime:
    return min(instant(e["timestamp"]) for e in marketing["suppression"])


def build_consent(data: SimData, seed: int = 0) -> SimData:
    rng = random.Random(f"klaviyo-sim-consent-{seed}")
    now = data.now()
    latest = now - timedelta(days=2)
    with data.lock:
        profiles = [data.stored_one("profile", pid) for pid in data.ids("profile")]
        profiles = [p for p in profiles if p is not None]
        created = {p["id"]: instant(p["attributes"]["created"]) for p in profiles}
        emailed = [p for p in profiles if p["attributes"].get("email")]
        notes: dict[str, Any] = {"suppressed": {}, "list_suppressed": []}

        def mark(profile: dict[str, Any], reason: str, when: datetime) -> None:
            marketing = _marketing(profile)
            entries = [*marketing["suppression"], {"reason": reason, "timestamp": iso(when)}]
            marketing["suppression"] = sorted(entries, key=lambda e: instant(e["timestamp"]))
            notes["suppressed"].setdefault(reason, []).append(profile["id"])

        # Unsubscribed from email marketing: suppressed with UNSUBSCRIBE when they left.
        for profile in emailed:
            marketing = _marketing(profile)
            if marketing["consent"] != "UNSUBSCRIBED":
                continue
            limit = min(latest, created[profile["id"]] + timedelta(days=400))
            when = _later(rng, created[profile["id"]] + timedelta(hours=1), limit)
            marketing["consent_timestamp"] = iso(when)
            mark(profile, "UNSUBSCRIBE", when)
        # The seed's hard bounces (created + 5 minutes) are kept as they were.
        for profile in profiles:
            if any(e["reason"] == "HARD_BOUNCE" for e in _marketing(profile)["suppression"]):
                notes["suppressed"].setdefault("HARD_BOUNCE", []).append(profile["id"])

        def clean(consent: str | None = None) -> list[dict[str, Any]]:
            return [
                p
                for p in emailed
                if not _marketing(p)["suppression"]
                and (consent is None or _marketing(p)["consent"] == consent)
            ]

        for profile in rng.sample(clean("SUBSCRIBED"), SPAM_COMPLAINTS):
            mark(profile, "SPAM_COMPLAINT", _later(rng, created[profile["id"]], latest))
        for profile in rng.sample(clean("NEVER_SUBSCRIBED"), INVALID_EMAILS):
            mark(profile, "INVALID_EMAIL", created[profile["id"]])  # found on import
        for profile in rng.sample(clean(), USER_SUPPRESSED):
            mark(profile, "USER_SUPPRESSED", _later(rng, created[profile["id"]], latest))

        # One bulk suppression job: BULK_SUPPRESSED profiles in the same second, placed at
        # BULK_POSITIONS of the ascending suppression.timestamp order.
        firsts = sorted(
            (_first(_marketing(p)), p["id"]) for p in profiles if _marketing(p)["suppression"]
        )
        lo, hi = firsts[BULK_POSITIONS[0] - 1][0], firsts[BULK_POSITIONS[0]][0]
        tie = (lo + (hi - lo) / 2).replace(microsecond=0)
        candidates = [p for p in clean() if created[p["id"]] < tie]
        batch = rng.sample(candidates, BULK_SUPPRESSED)
        for profile in batch:
            mark(profile, "USER_SUPPRESSED", tie)
        order = sorted(
            (_first(_marketing(p)), p["id"]) for p in profiles if _marketing(p)["suppression"]
        )
        at = [i for i, (when, _) in enumerate(order) if when == tie]
        notes["bulk_suppression_tie"] = {
            "timestamp": iso(tie),
            "ids": sorted(p["id"] for p in batch),
            # BULK_POSITIONS unless two suppressions were less than 2 seconds apart there.
            "positions": (at[0], at[-1]),
        }

        # List suppressions: lists the profile is not (or no longer) a member of.
        lists = data.ids("list")
        members = {lid: set(data.membership("list", lid)) for lid in lists}
        tie_at = instant(LIST_SUPPRESSION_TIE)
        chosen = rng.sample(
            [p for p in emailed if created[p["id"]] < tie_at - timedelta(days=1)], LIST_SUPPRESSED
        )
        for n, profile in enumerate(chosen):
            count = 3 if n == 0 else 2 if n < 4 else 1
            allowed = [lid for lid in lists if profile["id"] not in members[lid]]
            entries = []
            for k, list_id in enumerate(rng.sample(allowed, count)):
                when = (
                    tie_at
                    if n in (1, 5, 6) and k == 0
                    else _later(rng, created[profile["id"]], latest)
                )
                reason = "USER_SUPPRESSED" if (n + k) % 3 == 2 else "UNSUBSCRIBE"
                entries.append({"list_id": list_id, "reason": reason, "timestamp": iso(when)})
            _marketing(profile)["list_suppressions"] = entries
            notes["list_suppressed"].append(profile["id"])
        notes["multi_list_suppressed"] = [p["id"] for p in chosen[:4]]
        notes["list_suppression_tie"] = {
            "timestamp": LIST_SUPPRESSION_TIE,
            "ids": sorted(chosen[n]["id"] for n in (1, 5, 6)),
        }

        for profile in profiles:
            attrs = profile["attributes"]
            marketing = _marketing(profile)
            marketing["can_receive_email_marketing"] = can_receive(attrs, marketing)
            stamps = [marketing.get("last_updated")] + [
                e["timestamp"]
                for key in ("suppression", "list_suppressions")
                for e in marketing.get(key) or []
            ]
            known = [s for s in stamps if s]
            if known:
                marketing["last_updated"] = max(known, key=instant)
        _sms(rng, profiles, created, latest, notes)
        data.touched("profile")
        data.notes["consent"] = notes
    return data


def _sms(
    rng: random.Random,
    profiles: list[dict[str, Any]],
    created: dict[str, datetime],
    latest: datetime,
    notes: dict[str, Any],
) -> None:
    """Transactional SMS consent for half the SMS subscribers; a few unsubscribe (STOP)."""
    subscribed = [
        p
        for p in profiles
        if (p["attributes"]["subscriptions"].get("sms") or {}).get("marketing", {}).get("consent")
        == "SUBSCRIBED"
    ]
    for n, profile in enumerate(subscribed):
        sms = profile["attributes"]["subscriptions"]["sms"]
        if n % 2 == 0:
            stamp = sms["marketing"]["consent_timestamp"]
            sms["transactional"] = {
                "can_receive_sms_transactional": True,
                "consent": "SUBSCRIBED",
                "consent_timestamp": stamp,
                "method": "TEXT",
                "method_detail": "JOIN",
                "last_updated": stamp,
            }
    stopped = rng.sample(subscribed, SMS_UNSUBSCRIBED)
    for profile in stopped:
        marketing = profile["attributes"]["subscriptions"]["sms"]["marketing"]
        when = iso(_later(rng, created[profile["id"]] + timedelta(days=1), latest))
        marketing.update(
            can_receive_sms_marketing=False,
            consent="UNSUBSCRIBED",
            consent_timestamp=when,
            method="TEXT",
            method_detail="STOP",
            last_updated=when,
        )
    notes["sms_unsubscribed"] = sorted(p["id"] for p in stopped)
