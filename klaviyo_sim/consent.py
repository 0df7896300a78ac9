"""Email suppressions on profiles: what ``SimData.suppress`` and ``SimData.unsuppress`` do.

A profile's ``subscriptions.email.marketing`` holds ``suppression`` (global: ``[{reason,
timestamp}]``, reasons from the spec's enum) and ``list_suppressions`` (``[{list_id, reason,
timestamp}]``, reason free-form). ``can_receive_email_marketing`` is true when the profile has
an email address and no global suppression (the spec: *"True if it does profile does not have
any global suppressions"*). ``last_updated`` moves with every change (the spec: *"The
timestamp when a field on the email marketing object was last modified"*); the profile's
``updated`` does not (README "Consent and suppression": a documented choice, not evidence).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .data import iso
from .filters import parse_datetime

if TYPE_CHECKING:
    from .data import SimData

# The spec's enum of EmailMarketingSuppression.reason.
SUPPRESSION_REASONS = (
    "HARD_BOUNCE",
    "INVALID_EMAIL",
    "SPAM_COMPLAINT",
    "UNSUBSCRIBE",
    "USER_SUPPRESSED",
)
# What Klaviyo's bulk unsuppress removes (research note §8): "This only removes suppressions
# with reason USER_SUPPRESSED".
UNSUPPRESSIBLE = ("USER_SUPPRESSED",)


def email_marketing(attrs: dict[str, Any]) -> dict[str, Any]:
    """The profile's ``subscriptions.email.marketing``, created (never subscribed) if absent."""
    subscriptions = attrs.get("subscriptions")
    if not isinstance(subscriptions, dict):
        subscriptions = attrs["subscriptions"] = {
            "email": None,
            "sms": None,
            "mobile_push": None,
            "whatsapp": None,
        }
    email = subscriptions.get("email")
    if not isinstance(email, dict):
        email = subscriptions["email"] = {"marketing": None, "open_tracking": None}
    marketing = email.get("marketing")
    if not isinstance(marketing, dict):
        marketing = email["marketing"] = {
            "can_receive_email_marketing": bool(attrs.get("email")),
            "consent": "NEVER_SUBSCRIBED",
            "consent_timestamp": None,
            "last_updated": None,
            "method": None,
            "method_detail": None,
            "custom_method_detail": None,
            "double_optin": None,
            "suppression": [],
            "list_suppressions": [],
        }
    return marketing


def can_receive(attrs: dict[str, Any], marketing: dict[str, Any]) -> bool:
    return bool(attrs.get("email")) and not marketing.get("suppression")


def _touch(marketing: dict[str, Any], stamp: str) -> None:
    last = marketing.get("last_updated")
    before, after = parse_datetime(last or ""), parse_datetime(stamp)
    if before is None or (after is not None and after > before):
        marketing["last_updated"] = stamp


def suppress(
    data: SimData,
    profile_id: str,
    reason: str = "USER_SUPPRESSED",
    list_id: str | None = None,
    at: datetime | str | None = None,
) -> dict[str, Any]:
    """Suppress a profile globally, or for one list; a profile already suppressed for that
    reason (globally) or that list is left as it is."""
    with data.lock:
        stored = data.stored_one("profile", profile_id)
        if stored is None:
            raise KeyError(f"no profile with id {profile_id!r}")
        stamp = iso(at) if at is not None else data.now_iso()
        attrs = stored["attributes"]
        marketing = email_marketing(attrs)
        if list_id is None:
            if reason not in SUPPRESSION_REASONS:
                raise ValueError(f"reason must be one of {', '.join(SUPPRESSION_REASONS)}")
            entries = marketing.get("suppression") or []
            if not any(e.get("reason") == reason for e in entries):
                marketing["suppression"] = [*entries, {"reason": reason, "timestamp": stamp}]
                _touch(marketing, stamp)
        else:
            if data.stored_one("list", list_id) is None:
                raise KeyError(f"no list with id {list_id!r}")
            entries = marketing.get("list_suppressions") or []
            if not any(e.get("list_id") == list_id for e in entries):
                entry = {"list_id": list_id, "reason": reason, "timestamp": stamp}
                marketing["list_suppressions"] = [*entries, entry]
                _touch(marketing, stamp)
        marketing["can_receive_email_marketing"] = can_receive(attrs, marketing)
        data.touched("profile")
        return data.get_one("profile", profile_id) or {}


def unsuppress(
    data: SimData,
    profile_id: str,
    list_id: str | None = None,
    reasons: Iterable[str] | None = UNSUPPRESSIBLE,
) -> dict[str, Any]:
    """Remove a profile's global suppressions (or its suppressions for ``list_id``) whose
    reason is in ``reasons`` (``None``: every reason). The default removes only
    ``USER_SUPPRESSED``, as Klaviyo's bulk unsuppress does; what is left may be ``[]``."""
    with data.lock:
        stored = data.stored_one("profile", profile_id)
        if stored is None:
            raise KeyError(f"no profile with id {profile_id!r}")
        wanted = None if reasons is None else set(reasons)
        attrs = stored["attributes"]
        marketing = email_marketing(attrs)
        key = "suppression" if list_id is None else "list_suppressions"
        entries = marketing.get(key) or []
        kept = [
            e
            for e in entries
            if (list_id is not None and e.get("list_id") != list_id)
            or (wanted is not None and e.get("reason") not in wanted)
        ]
        if len(kept) != len(entries):
            marketing[key] = kept
            _touch(marketing, data.now_iso())
        marketing["can_receive_email_marketing"] = can_receive(attrs, marketing)
        data.touched("profile")
        return data.get_one("profile", profile_id) or {}
