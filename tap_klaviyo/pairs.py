"""Pair tables: (parent id, related id) read off the parent's included relationship."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from singer_sdk import Stream
from singer_sdk.helpers.types import Context
from singer_sdk.schema.source import SchemaDirectory, StreamSchema

from tap_klaviyo import schemas
from tap_klaviyo.sdk import SdkStreamHooks
from tap_klaviyo.traits import CarriesAccount, Watched
from tap_klaviyo.transport.jsonapi import snake


class RelatedIdsStream(Watched, CarriesAccount, SdkStreamHooks, Stream):
    """Pairs of (parent id, related id) taken from the parent's included relationship,
    so the join table costs no request of its own.

    Tagging a list, segment, campaign or flow does not move its `updated`, so while
    a pair table is selected its parent is read in full (the SDK says so in its log):
    every run then emits every parent's current pairs.
    """

    schema = StreamSchema(SchemaDirectory(schemas))
    parent_key: ClassVar[str]
    relationship: ClassVar[str]
    # The related id's column; default from the relationship (tags -> tag_id).
    related_key_name: ClassVar[str | None] = None
    ignore_parent_replication_key = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if hasattr(cls, "parent_key"):  # intermediate bases name no parent yet
            cls.primary_keys = (cls.parent_key, cls.related_key())
            cls.state_partitioning_keys = [cls.parent_key]

    @classmethod
    def related_key(cls) -> str:
        return cls.related_key_name or f"{snake(cls.relationship).rstrip('s')}_id"

    @property
    def emit_activate_version_messages(self) -> bool:
        return False

    def get_records(self, context: Context | None) -> Iterator[dict[str, Any]]:
        context = context or {}
        for related in context.get(f"{snake(self.relationship)}_ids", []):
            row = {self.parent_key: context[self.parent_key], self.related_key(): related}
            yield self.with_account(row)
