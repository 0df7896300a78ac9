"""The simulator's in-memory store of JSON:API resources and the links between them."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

from .model import RELATIONS, UPDATED_AT_TYPES, relation

UTC = timezone.utc
DEFAULT_NOW = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)
MEMBERSHIP_TYPES = ("list", "segment")

Resource = dict[str, Any]
Ref = tuple[str, str]


def iso(value: datetime | str) -> str:
    """Klaviyo's timestamp format: 2024-05-01T10:20:30+00:00 (fraction only when present)."""
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


class SimData:
    """Resources by type and id, relationships, list/segment memberships and a clock.

    Every public method takes the store's lock, so tests may mutate it while the server
    answers requests from other threads.
    """

    def __init__(self, now: datetime = DEFAULT_NOW) -> None:
        self.lock = threading.RLock()
        self._now = now
        self._resources: dict[str, dict[str, Resource]] = {}
        self._links: dict[Ref, dict[str, dict[Ref, None]]] = {}
        self._members: dict[Ref, dict[str, str]] = {}
        self._private: dict[Ref, dict[str, Any]] = {}
        self._versions: dict[str, int] = {}
        # Bumped by every mutation; cached query results are keyed by it.
        self.generation = 0
        self._lazy: dict[str, Callable[[SimData], None]] = {}
        # Sorted views built by the query engine, keyed by (type, sort, generation).
        self.index_cache: dict[tuple[Any, ...], Any] = {}
        # Where the seed generators put their awkward cases (ids, timestamps, positions).
        self.notes: dict[str, Any] = {}

    # -- constructors -------------------------------------------------------------------

    @classmethod
    def empty(cls) -> SimData:
        return cls()

    @classmethod
    def default(cls, seed: int = 0, reality: bool = False) -> SimData:
        """The default seed; ``reality=True`` adds what the reality layer needs to show
        (README "Reality layer") without changing any of the default records."""
        from .seed import build_default, build_reality

        data = build_default(cls(), seed)
        return build_reality(data, seed) if reality else data

    @classmethod
    def bulk(
        cls,
        events: int = 200_000,
        profiles: int = 50_000,
        seed: int = 0,
        shape: str = "uniform",
    ) -> SimData:
        """Generated profiles and events; ``shape`` is "uniform", "growth" or "bulk_import"."""
        from .seed import build_bulk

        return build_bulk(cls(), events=events, profiles=profiles, seed=seed, shape=shape)

    # -- clock --------------------------------------------------------------------------

    def now(self) -> datetime:
        with self.lock:
            return self._now

    def now_iso(self) -> str:
        return iso(self.now())

    def advance(self, seconds: float) -> datetime:
        with self.lock:
            self._now += timedelta(seconds=seconds)
            return self._now

    def set_now(self, when: datetime) -> None:
        with self.lock:
            self._now = when

    # -- mutation -----------------------------------------------------------------------

    def add(self, resource_type: str, resource: Resource) -> str:
        """Store a JSON:API resource ``{"type", "id", "attributes", "relationships"?}``.

        ``relationships.<name>.data`` entries become links (with their inverses). A top-level
        ``meta`` dict is kept private: the simulator uses ``meta["channel"]`` for campaigns
        and never returns it.
        """
        if resource.get("type", resource_type) != resource_type:
            raise ValueError(f"resource type {resource.get('type')!r} != {resource_type!r}")
        resource_id = resource.get("id")
        if not isinstance(resource_id, str) or not resource_id:
            raise ValueError("resource needs a non-empty string id")
        with self.lock:
            self._ensure(resource_type)
            stored = {
                "type": resource_type,
                "id": resource_id,
                "attributes": copy.deepcopy(resource.get("attributes") or {}),
            }
            self._resources.setdefault(resource_type, {})[resource_id] = stored
            if resource.get("meta"):
                self._private[(resource_type, resource_id)] = dict(resource["meta"])
            for name, rel in (resource.get("relationships") or {}).items():
                data = rel.get("data") if isinstance(rel, dict) else None
                if data is None:
                    continue
                for ref in data if isinstance(data, list) else [data]:
                    self.link(resource_type, resource_id, name, ref["id"], ref.get("type"))
            self._bump(resource_type)
        return resource_id

    def add_many(self, resource_type: str, resources: Iterable[Resource]) -> None:
        with self.lock:
            for resource in resources:
                self.add(resource_type, resource)

    def update(self, resource_type: str, resource_id: str, **attributes: Any) -> Resource:
        """Merge ``attributes`` and bump ``updated``/``updated_at`` to :meth:`now`."""
        with self.lock:
            stored = self._get_stored(resource_type, resource_id)
            attrs = stored["attributes"]
            attrs.update(copy.deepcopy(attributes))
            stamp = self._updated_field(resource_type, attrs)
            if stamp and stamp not in attributes:
                attrs[stamp] = self.now_iso()
            self._bump(resource_type)
            return self._export(stored)

    def delete(self, resource_type: str, resource_id: str) -> None:
        with self.lock:
            self._get_stored(resource_type, resource_id)
            del self._resources[resource_type][resource_id]
            ref = (resource_type, resource_id)
            for name, targets in list(self._links.get(ref, {}).items()):
                for target in list(targets):
                    self.unlink(resource_type, resource_id, name, target[1], target[0])
            self._links.pop(ref, None)
            self._private.pop(ref, None)
            self._members.pop(ref, None)
            # Drop inbound links that have no inverse bookkeeping (e.g. event -> profile).
            for source, rels in self._links.items():
                for targets in rels.values():
                    if ref in targets:
                        del targets[ref]
                        self._bump(source[0])
            if resource_type == "profile":
                for members in self._members.values():
                    members.pop(resource_id, None)
            self._bump(resource_type)

    def link(
        self,
        resource_type: str,
        resource_id: str,
        name: str,
        target_id: str,
        target_type: str | None = None,
    ) -> None:
        """Relate two resources; known relationships also get their inverse link."""
        with self.lock:
            rel = relation(resource_type, name)
            target_type = target_type or (rel.target if rel else None)
            if target_type is None:
                raise ValueError(f"unknown relationship {resource_type}.{name}; pass target_type")
            self._add_link((resource_type, resource_id), name, (target_type, target_id), rel)
            if rel and rel.inverse:
                inverse = relation(target_type, rel.inverse)
                self._add_link(
                    (target_type, target_id), rel.inverse, (resource_type, resource_id), inverse
                )
            self._bump(resource_type)
            self._bump(target_type)

    def unlink(
        self,
        resource_type: str,
        resource_id: str,
        name: str,
        target_id: str,
        target_type: str | None = None,
    ) -> None:
        with self.lock:
            rel = relation(resource_type, name)
            target_type = target_type or (rel.target if rel else None)
            if target_type is None:
                return
            self._links.get((resource_type, resource_id), {}).get(name, {}).pop(
                (target_type, target_id), None
            )
            if rel and rel.inverse:
                self._links.get((target_type, target_id), {}).get(rel.inverse, {}).pop(
                    (resource_type, resource_id), None
                )
            if resource_type in MEMBERSHIP_TYPES and name == "profiles":
                self._members.get((resource_type, resource_id), {}).pop(target_id, None)
            if target_type in MEMBERSHIP_TYPES and name in ("lists", "segments"):
                self._members.get((target_type, target_id), {}).pop(resource_id, None)
            self._bump(resource_type)
            self._bump(target_type)

    def suppress(
        self,
        profile_id: str,
        reason: str = "USER_SUPPRESSED",
        list_id: str | None = None,
        at: datetime | str | None = None,
    ) -> Resource:
        """Suppress a profile's email marketing globally (``reason`` from the spec's enum)
        or for one list (``list_id``, any reason) at ``at`` (default :meth:`now`).
        ``updated`` does not move (README "Consent and suppression")."""
        from .consent import suppress

        return suppress(self, profile_id, reason, list_id, at)

    def unsuppress(
        self,
        profile_id: str,
        list_id: str | None = None,
        reasons: Iterable[str] | None = ("USER_SUPPRESSED",),
    ) -> Resource:
        """Remove a profile's global suppressions (or those for ``list_id``) with one of
        ``reasons`` (``None``: all). The default is Klaviyo's bulk unsuppress: only
        ``USER_SUPPRESSED``. ``updated`` does not move."""
        from .consent import unsuppress

        return unsuppress(self, profile_id, list_id, reasons)

    def touched(self, resource_type: str) -> None:
        """Record a change made to stored attributes in place (seed builders, helpers), so
        cached queries and indexes are not reused."""
        with self.lock:
            self._bump(resource_type)

    def add_list_member(
        self, list_id: str, profile_id: str, joined_group_at: datetime | str | None = None
    ) -> None:
        self._add_member("list", list_id, profile_id, joined_group_at)

    def add_segment_member(
        self, segment_id: str, profile_id: str, joined_group_at: datetime | str | None = None
    ) -> None:
        self._add_member("segment", segment_id, profile_id, joined_group_at)

    def remove_list_member(self, list_id: str, profile_id: str) -> None:
        self.unlink("list", list_id, "profiles", profile_id)

    def remove_segment_member(self, segment_id: str, profile_id: str) -> None:
        self.unlink("segment", segment_id, "profiles", profile_id)

    # -- reading ------------------------------------------------------------------------

    def get(self, resource_type: str) -> list[Resource]:
        """Copies of every resource of a type, with their relationships' data."""
        with self.lock:
            self._ensure(resource_type)
            return [self._export(r) for r in self._resources.get(resource_type, {}).values()]

    def get_one(self, resource_type: str, resource_id: str) -> Resource | None:
        with self.lock:
            self._ensure(resource_type)
            stored = self._resources.get(resource_type, {}).get(resource_id)
            return self._export(stored) if stored else None

    def ids(self, resource_type: str) -> list[str]:
        with self.lock:
            self._ensure(resource_type)
            return list(self._resources.get(resource_type, {}))

    def count(self, resource_type: str) -> int:
        with self.lock:
            self._ensure(resource_type)
            return len(self._resources.get(resource_type, {}))

    def types(self) -> list[str]:
        with self.lock:
            return sorted(set(self._resources) | set(self._lazy))

    def members(self, kind: str, group_id: str) -> dict[str, str]:
        """profile id -> joined_group_at for a list or segment."""
        with self.lock:
            return dict(self._members.get((kind, group_id), {}))

    # -- used by the server (caller holds the lock) -------------------------------------

    def stored(self, resource_type: str) -> dict[str, Resource]:
        self._ensure(resource_type)
        return self._resources.get(resource_type, {})

    def stored_one(self, resource_type: str, resource_id: str) -> Resource | None:
        return self.stored(resource_type).get(resource_id)

    def targets(self, resource_type: str, resource_id: str, name: str) -> list[Ref]:
        """(type, id) of the resources a relationship points to, in link order."""
        with self.lock:
            rels = self._links.get((resource_type, resource_id))
            if not rels:
                return []
            return list(rels.get(name, ()))

    def links_of(self, resource_type: str, resource_id: str) -> dict[str, dict[Ref, None]]:
        """All relationships of a resource, not copied: the caller holds the lock."""
        return self._links.get((resource_type, resource_id)) or {}

    def materialize(self) -> None:
        """Generate every lazily defined type now (benchmarks call this before timing)."""
        with self.lock:
            for resource_type in list(self._lazy):
                self._ensure(resource_type)

    def membership(self, kind: str, group_id: str) -> dict[str, str]:
        return self._members.get((kind, group_id), {})

    def private(self, resource_type: str, resource_id: str) -> dict[str, Any]:
        return self._private.get((resource_type, resource_id), {})

    def version(self, resource_type: str) -> int:
        return self._versions.get(resource_type, 0)

    def register_lazy(self, resource_type: str, loader: Callable[[SimData], None]) -> None:
        """Defer generating a type until something reads it (bulk benchmark data)."""
        with self.lock:
            self._lazy[resource_type] = loader

    def fast_insert(self, resource_type: str, resource: Resource, links: dict[str, Ref]) -> None:
        """Insert without copying or inverse links: for generated data only."""
        self._resources.setdefault(resource_type, {})[resource["id"]] = resource
        if links:
            self._links[(resource_type, resource["id"])] = {
                name: {ref: None} for name, ref in links.items()
            }

    # -- internals ----------------------------------------------------------------------

    def _ensure(self, resource_type: str) -> None:
        loader = self._lazy.pop(resource_type, None)
        if loader is not None:
            # Not a mutation: nothing could have been read from the type before it loaded.
            loader(self)

    def _bump(self, resource_type: str) -> None:
        self._versions[resource_type] = self._versions.get(resource_type, 0) + 1
        self.generation += 1

    def _get_stored(self, resource_type: str, resource_id: str) -> Resource:
        self._ensure(resource_type)
        stored = self._resources.get(resource_type, {}).get(resource_id)
        if stored is None:
            raise KeyError(f"no {resource_type} with id {resource_id!r}")
        return stored

    def _add_link(self, source: Ref, name: str, target: Ref, rel: Any) -> None:
        rels = self._links.setdefault(source, {})
        targets = rels.setdefault(name, {})
        if rel is not None and not rel.many:
            targets.clear()
        targets[target] = None

    def _add_member(
        self, kind: str, group_id: str, profile_id: str, joined: datetime | str | None
    ) -> None:
        with self.lock:
            stamp = iso(joined) if joined is not None else self.now_iso()
            self.link(kind, group_id, "profiles", profile_id)
            self._members.setdefault((kind, group_id), {})[profile_id] = stamp
            self._bump("profile")

    def _updated_field(self, resource_type: str, attrs: dict[str, Any]) -> str | None:
        if "updated" in attrs:
            return "updated"
        if "updated_at" in attrs:
            return "updated_at"
        if resource_type in UPDATED_AT_TYPES:
            return "updated_at"
        if resource_type in ("event", "coupon", "tag", "tag-group", "account", "coupon-code"):
            return None
        return "updated"

    def _export(self, stored: Resource) -> Resource:
        out: Resource = {
            "type": stored["type"],
            "id": stored["id"],
            "attributes": copy.deepcopy(stored["attributes"]),
        }
        rels = self._links.get((stored["type"], stored["id"]))
        if rels:
            known = RELATIONS.get(stored["type"], {})
            exported: dict[str, Any] = {}
            for name, targets in rels.items():
                refs = [{"type": t, "id": i} for t, i in targets]
                rel = known.get(name)
                if rel is not None and not rel.many:
                    exported[name] = {"data": refs[0] if refs else None}
                else:
                    exported[name] = {"data": refs}
            out["relationships"] = exported
        return out
