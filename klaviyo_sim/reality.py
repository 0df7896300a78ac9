"""The reality layer: what Klaviyo's live API does where it differs from its OpenAPI spec.

Off by default (``KlaviyoSimulator(reality=True)`` turns it on). Every quirk is a row of one of
the tables below, and every row is documented, with its evidence, under "Reality layer" in
README.md. Quirks change what goes on the wire only: the store keeps spec-shaped values, so
filters, sorting and cursors see the same instants and strings with the layer on or off.

Which resources a quirk touches is decided by a hash of the quirk's name and the resource id
(:func:`picked`): the same resource always looks the same, across requests and servers.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

Attributes = dict[str, Any]


def picked(name: str, resource_id: str, one_in: int) -> bool:
    """True for about one resource id in ``one_in``, the same ones every time."""
    digest = hashlib.blake2b(f"{name}\0{resource_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % one_in == 0


def _always(attrs: Attributes) -> bool:
    return True


# -- attributes the spec does not declare ----------------------------------------------------


@dataclass(frozen=True)
class Extra:
    """An attribute Klaviyo sends that the spec's response schema does not declare."""

    name: str  # the quirk's name in README.md
    resource_type: str
    attribute: str
    # (account's public key, resource id, stored attributes) -> the value to send.
    value: Callable[[str | None, str, Attributes], Any]


def _anonymous_id(company: str | None, rid: str, attrs: Attributes) -> str | None:
    if not picked("profile-anonymous-id", rid, 4):
        return None
    return str(uuid.UUID(bytes=hashlib.sha256(rid.encode()).digest()[:16], version=4))


def _company_id(company: str | None, rid: str, attrs: Attributes) -> str | None:
    return company


EXTRAS: tuple[Extra, ...] = (
    Extra("profile-anonymous-id", "profile", "anonymous_id", _anonymous_id),
    Extra("template-company-id", "template", "company_id", _company_id),
)


# -- values of another shape than the spec's ---------------------------------------------------


@dataclass(frozen=True)
class ValueQuirk:
    """A stored value sent differently: null, another format, another JSON type."""

    name: str  # the quirk's name in README.md
    resource_type: str
    path: tuple[str, ...]  # inside "attributes"
    one_in: int  # share of the resources that ``when`` admits, by picked()
    change: Callable[[Any], Any]
    when: Callable[[Attributes], bool] = _always


def to_null(value: Any) -> None:
    return None


def space_separated(value: Any) -> Any:
    """``2023-08-10T07:21:56+00:00`` -> ``2023-08-10 07:21:56+00:00`` (the same instant)."""
    if isinstance(value, str) and len(value) > 10 and value[10] == "T":
        return f"{value[:10]} {value[11:]}"
    return value


def category_object(value: Any) -> Any:
    return {"category": value} if isinstance(value, str) else value


# Nulls where the spec declares a plain, non-nullable type.
NULLS: tuple[ValueQuirk, ...] = (
    ValueQuirk(
        "template-html-null",
        "template",
        ("html",),
        2,
        to_null,
        when=lambda attrs: attrs.get("editor_type") == "SYSTEM_DRAGGABLE",
    ),
    ValueQuirk("campaign-send-options-null", "campaign", ("send_options",), 5, to_null),
)

# Date-times with a space instead of the "T" (the instant does not change).
SPACE_DATETIMES: tuple[ValueQuirk, ...] = (
    ValueQuirk("event-datetime-space", "event", ("datetime",), 8, space_separated),
    ValueQuirk(
        "profile-consent-timestamp-space",
        "profile",
        ("subscriptions", "email", "marketing", "consent_timestamp"),
        4,
        space_separated,
    ),
)

# Members of free-form objects with another JSON type than peers' schemas assume.
RESHAPED: tuple[ValueQuirk, ...] = (
    ValueQuirk(
        "metric-integration-category-object",
        "metric",
        ("integration", "category"),
        2,
        category_object,
    ),
)

VALUE_QUIRKS: tuple[ValueQuirk, ...] = NULLS + SPACE_DATETIMES + RESHAPED


# -- documents ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinksOnly:
    """A relationship an operation sends with "links" only, no "data" (primary resources)."""

    name: str  # the quirk's name in README.md
    operation_id: str
    relationship: str


LINKS_ONLY: tuple[LinksOnly, ...] = (
    LinksOnly("catalog-variant-item-links-only", "get_catalog_variants", "item"),
)

# The last page of every collection carries "next": null and "prev": null instead of
# leaving them out (the spec's CollectionLinks declares both as non-nullable strings).
LAST_PAGE_NULL_LINKS = "last-page-null-links"
LAST_PAGE_NULL_MEMBERS = ("next", "prev")


@dataclass(frozen=True)
class UnsortedPages:
    """A query whose pages come back slightly out of the requested order."""

    name: str  # the quirk's name in README.md
    operation_id: str
    sort: str  # the sort parameter as sent (ascending only)
    # Filter terms that must all be present: (field, value) of equals(field,value).
    equals: frozenset[tuple[str, Any]]
    one_in: int  # records flagged by picked(); a flagged record changes place with its next


UNSORTED: tuple[UnsortedPages, ...] = (
    UnsortedPages(
        "archived-email-campaigns-unsorted",
        "get_campaigns",
        "updated_at",
        frozenset({("archived", True), ("messages.channel", "email")}),
        3,
    ),
)


# -- endpoints an account's plan must include ----------------------------------------------------

ADVANCED_KDP = "advanced_kdp"
# Every add-on the simulator knows (``KlaviyoSimulator(add_ons=...)``).
ADD_ONS = frozenset({ADVANCED_KDP})
# The account the layer plays when ``add_ons`` is None. Most accounts lack Advanced KDP, but
# the default seed has webhooks, which only Advanced KDP accounts can manage (README).
DEFAULT_ADD_ONS = frozenset({ADVANCED_KDP})


@dataclass(frozen=True)
class PlanGate:
    """Operations that answer 403 ``permission_denied`` unless the account has an add-on,
    whatever the key's scopes."""

    name: str  # the quirk's name in README.md
    add_on: str
    operations: frozenset[str]
    # Klaviyo's exact text is not quoted anywhere public: this one is made up (README).
    detail: str


PLAN_GATED: tuple[PlanGate, ...] = (
    PlanGate(
        "webhooks-need-advanced-kdp",
        ADVANCED_KDP,
        frozenset({"get_webhooks", "get_webhook", "get_webhook_topics", "get_webhook_topic"}),
        "Your account does not have access to webhooks. The Webhooks API is available to "
        "Advanced KDP customers and Klaviyo app partners.",
    ),
)


def plan_gate(operation_id: str, add_ons: frozenset[str]) -> PlanGate | None:
    """The gate that closes an operation to an account with these add-ons, if any."""
    for gate in PLAN_GATED:
        if operation_id in gate.operations and gate.add_on not in add_ons:
            return gate
    return None


# -- applying them ------------------------------------------------------------------------------

_EXTRAS_BY_TYPE: dict[str, tuple[Extra, ...]] = {}
for _extra in EXTRAS:
    _EXTRAS_BY_TYPE[_extra.resource_type] = (*_EXTRAS_BY_TYPE.get(_extra.resource_type, ()), _extra)
_VALUES_BY_TYPE: dict[str, tuple[ValueQuirk, ...]] = {}
for _quirk in VALUE_QUIRKS:
    _VALUES_BY_TYPE[_quirk.resource_type] = (*_VALUES_BY_TYPE.get(_quirk.resource_type, ()), _quirk)
del _extra, _quirk


def _replace(attrs: Attributes, path: tuple[str, ...], change: Callable[[Any], Any]) -> Attributes:
    """``attrs`` with the value at ``path`` changed, copying only the dicts on the path."""
    head, rest = path[0], path[1:]
    if head not in attrs:
        return attrs
    value = attrs[head]
    if rest:
        if not isinstance(value, dict):
            return attrs
        changed = _replace(value, rest, change)
    else:
        if value is None:
            return attrs
        changed = change(value)
    if changed is value:
        return attrs
    return {**attrs, head: changed}


def attributes(company: str | None, kind: str, rid: str, attrs: Attributes) -> Attributes:
    """What Klaviyo sends for a resource's attributes; ``attrs`` itself is never changed."""
    for quirk in _VALUES_BY_TYPE.get(kind, ()):
        if quirk.when(attrs) and picked(quirk.name, rid, quirk.one_in):
            attrs = _replace(attrs, quirk.path, quirk.change)
    extras = _EXTRAS_BY_TYPE.get(kind)
    if extras:
        attrs = dict(attrs)
        for extra in extras:
            attrs.setdefault(extra.attribute, extra.value(company, rid, attrs))
    return attrs


_LINKS_ONLY = frozenset((q.operation_id, q.relationship) for q in LINKS_ONLY)


def links_only(operation_id: str, relationship: str) -> bool:
    return (operation_id, relationship) in _LINKS_ONLY


def unsorted_rule(
    operation_id: str,
    sort: str | None,
    descending: bool,
    terms: Iterable[tuple[str, str, Any]],
) -> UnsortedPages | None:
    """The rule that applies to a query, given its (operator, field, value) filter terms."""
    if sort is None or descending:
        return None
    present = {
        (field, value)
        for operator, field, value in terms
        if operator == "equals" and isinstance(value, str | bool | int | float)
    }
    for rule in UNSORTED:
        if rule.operation_id == operation_id and rule.sort == sort and rule.equals <= present:
            return rule
    return None


def flagged(rule: UnsortedPages, resource_id: str) -> bool:
    return picked(rule.name, resource_id, rule.one_in)


def partner(flags: Callable[[int], bool], index: int, count: int) -> int:
    """Where the record at sorted ``index`` is shown, when neighbours change places.

    A flagged record whose neighbours are both unflagged changes place with the next one.
    Pairs never overlap, so this is an involution on 0..count-1: every record is shown
    exactly once however the sorted order is cut into pages, and a pair that straddles a
    page boundary shows each record on the other page.
    """

    def flag(i: int) -> bool:
        return 0 <= i < count and flags(i)

    def starts(i: int) -> bool:
        return 0 <= i < count - 1 and flag(i) and not flag(i - 1) and not flag(i + 1)

    if starts(index):
        return index + 1
    if starts(index - 1):
        return index - 1
    return index


def quirk_names() -> list[str]:
    """Every quirk's name, as README.md documents them."""
    return [
        *(e.name for e in EXTRAS),
        *(q.name for q in VALUE_QUIRKS),
        *(q.name for q in LINKS_ONLY),
        LAST_PAGE_NULL_LINKS,
        *(u.name for u in UNSORTED),
        *(g.name for g in PLAN_GATED),
    ]
