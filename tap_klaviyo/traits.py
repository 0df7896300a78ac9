"""What a stream mixes in besides its reading and writing: a schema that follows the
records Klaviyo sends, a full read every few days that lets the target drop what
Klaviyo no longer has, and the contexts a parent's records give its children."""

from __future__ import annotations

import copy
from datetime import timedelta
from functools import cached_property
from typing import Any, ClassVar

from singer_sdk.helpers.types import Context
from singer_sdk.singerlib import SchemaMessage

from tap_klaviyo.dates import CLOCK, parse_datetime
from tap_klaviyo.read.bounds import full_refresh_due
from tap_klaviyo.write.paths import Output
from tap_klaviyo.write.widen import EvolvingSchema, RecordCheck

ACCOUNT_COLUMN = "account_id"


class CarriesAccount:
    """With the `account_id` setting, every record names its account in one more column,
    so the tables of several accounts (each loaded by its own job) can be unioned."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.account_id: str | None = self.run_tap.settings.account_id
        if self.account_id is not None:
            schema = copy.deepcopy(self.schema)
            schema.setdefault("properties", {})[ACCOUNT_COLUMN] = {"type": ["string"]}
            # An instance attribute shadows the class's schema descriptor for this stream only.
            self.__dict__["schema"] = schema

    def with_account(self, row: dict[str, Any]) -> dict[str, Any]:
        if self.account_id is not None:
            row[ACCOUNT_COLUMN] = self.account_id
        return row


class SchemaFollowsRecords:
    """A stream whose schema widens to what Klaviyo really sends (write/widen.py): the
    record check widens it, the stream installs it and announces it in a SCHEMA."""

    @cached_property
    def evolving(self) -> EvolvingSchema:
        return EvolvingSchema(
            self.name, self.schema, install=self._install, send=self._send, logger=self.logger
        )

    @cached_property
    def record_check(self) -> RecordCheck:
        key = self.replication_key if self.bookmarks_per_record else None
        return RecordCheck(self.name, self.schema, self.id_field, key, self.evolving.widened)

    def announce_schema(self) -> None:
        self.evolving.announce_pending()

    def _install(self, schema: dict[str, Any]) -> None:
        # An instance attribute shadows the class's schema descriptor for this stream only.
        self.__dict__["schema"] = schema
        if self.record_check.schema is not schema:
            self.record_check.adopt(schema)
        if self.output is not Output.SDK:
            self.stream_maps[0].transformed_schema = schema

    def _send(self, schema: dict[str, Any]) -> None:
        # With stream maps or flattening the SDK shapes records and schemas itself.
        if self.output is not Output.SDK:
            key = [self.replication_key] if self.replication_key else None
            message = SchemaMessage(self.name, schema, list(self.primary_keys), key)
            self.run_tap.write_message(message)


class FullRefresh:
    """A stream read in full every ``full_refresh_setting`` days: its records then carry a
    table version, and ACTIVATE_VERSION follows once every parent was read in full, so
    the target drops (or marks deleted) the records that were not sent. Other runs read
    incrementally. A run cut short sends none and drops nothing."""

    # The setting saying every how many days; None: never.
    full_refresh_setting: ClassVar[str | None] = None
    refreshing = False

    def plan_full_refresh(self) -> None:
        setting = self.full_refresh_setting
        saved = self.tap_state.get("bookmarks", {}).get(self.name, {})
        started = self.run_tap.run_started_at
        every = float(getattr(self.settings, setting) or 0) if setting else 0
        self.refreshing = full_refresh_due(saved.get("full_refreshed_at"), every, started)
        if self.refreshing:
            # Milliseconds now, not the run's start (whole seconds): a later run's version
            # is always the greater, which is how targets tell which rows are current.
            self.stamp_records(int(CLOCK.now().timestamp() * 1000))
            self.logger.info(
                "Stream '%s' is read in full this run (%s=%s); the target is then told "
                "which records Klaviyo no longer has",
                self.name,
                setting,
                every,
            )

    def settle_full_refresh(self) -> None:
        """At the end of a stream that read every parent: note when, keep ACTIVATE_VERSION
        coming; when the key could not read it at all, drop nothing."""
        if not self.refreshing:
            return
        reader = self.__dict__.get("reader")
        if reader is not None and reader.forbidden:
            self.__dict__.pop("_pending_version", None)
        else:
            self.stream_state["full_refreshed_at"] = self.run_tap.run_started_at.isoformat()


class ParentOfChildren:
    """A stream whose records give its children their contexts (``child_key``, and the
    ids of included to-many relationships for pair tables), and whose pages start the
    children's reads before the children's turn."""

    @cached_property
    def related(self) -> dict[str, dict[str, list[str]]]:
        """To-many relationship ids of included relationships, held for the children."""
        return {}

    def get_child_context(self, record: dict, context: Context | None) -> dict[str, Any]:
        if not self.child_streams:
            return {}
        child = self.child_context_for(record, context)
        self.related.pop(record[self.id_field], None)
        return child

    def prefetch_children(self, page: list[dict[str, Any]], context: Context | None) -> None:
        children = [
            child
            for child in self.child_streams
            if hasattr(child, "prefetch") and (child.selected or child.has_selected_descendents)
        ]
        if not children:
            return
        for record in page:
            child_context = self.child_context_for(record, context)
            for child in children:
                child.prefetch(child_context)

    def child_context_for(self, record: dict, context: Context | None) -> dict[str, Any]:
        child = {k: v for k, v in (context or {}).items() if k.endswith("_id")}
        child[self.child_key] = record[self.id_field]
        child.update(self.related.get(record[self.id_field], {}))
        return child


class DailySnapshot:
    """A child stream that takes a snapshot of each parent (a list's size, say): a row per
    parent and day, keyed by the parent's id and the day, stamped with the moment; a
    parent whose last snapshot is younger than ``snapshot_setting`` hours is not asked."""

    snapshot_setting: ClassVar[str]
    replication_key = "observed_at"
    # A list's size changes without its `updated` moving: every parent is visited.
    ignore_parent_replication_key = True
    # The endpoint returns one resource: nothing to filter or sort.
    server_filters = False

    @classmethod
    def extra_columns(cls) -> dict[str, dict[str, Any]]:
        """Columns besides the resource's (for scripts/generate_schemas.py)."""
        return {
            "date": {"type": ["string"], "format": "date"},
            "observed_at": {"type": ["string"], "format": "date-time"},
        }

    def reads(self, context: Context | None) -> bool:
        hours = float(getattr(self.settings, self.snapshot_setting) or 0)
        last = self.get_context_state(context).get("replication_key_value")
        started = self.run_tap.run_started_at
        return not last or started - parse_datetime(last) >= timedelta(hours=hours)

    def get_records(self, context: Context | None) -> Any:
        if self.reads(context):
            yield from super().get_records(context)

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        started = self.run_tap.run_started_at
        row["date"] = started.date().isoformat()
        row["observed_at"] = started.isoformat()
        return super().post_process(row, context)
