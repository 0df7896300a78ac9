"""Every use of singer-sdk's private members, in one place.

The SDK's public hooks (``get_records``, ``post_process``, ``get_http_request``, ...)
are overridden where the streams are declared. What follows reaches into the SDK's
internals for speed (a page at a time instead of a record at a time, lean encoding,
consistent state snapshots across threads) or for safety (ACTIVATE_VERSION only after
the last record). It was checked line by line against ``SDK_CHECKED``; pyproject.toml
pins singer-sdk to that release, and ``tests/test_sdk.py`` fails on any other, so an
upgrade starts by reading the SDK's ``Stream._sync_records``, ``_write_record_message``,
``_write_state_message``, ``_process_record``, ``_write_activate_version_message``,
``_increment_stream_state`` and ``Tap.sync_all`` again and comparing them with this file.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from singer_sdk.helpers import types
from singer_sdk.helpers.types import Context

from tap_klaviyo.write.paths import Output
from tap_klaviyo.write.render import RenderedPage
from tap_klaviyo.write.sink import PageSink, state_snapshot

SDK_CHECKED = "0.54.9"

if TYPE_CHECKING:
    from singer_sdk import Stream as _Base
else:
    _Base = object


class SdkStreamHooks(_Base):
    """Mixed into every stream class of the tap, before the SDK's own base class."""

    # What the streams declare or build, read here (see tap_klaviyo.client).
    output: Output = Output.SDK
    # False where bookmarks move per finished range instead (report streams).
    bookmarks_per_record: bool = True

    # ---- private members read -------------------------------------------------

    @property
    def run_tap(self) -> Any:
        """The tap this stream belongs to (its settings, writer and render pool)."""
        return self._tap

    @property
    def stream_version(self) -> int | None:
        """The full-table version stamped on records (ACTIVATE_VERSION)."""
        return self._stream_version

    def announce_schema(self) -> None:
        """Send a widened SCHEMA before the next record, if the schema widened."""

    def write_state(self) -> None:
        """A STATE now, if anything changed since the last one."""
        self._write_state_message()

    # ---- private methods overridden ------------------------------------------------

    def _write_state_message(self) -> None:
        manager = self.state_manager
        if manager.is_flushed:
            return
        _ = self.stream_state  # the stream's entry exists before the snapshot
        self._tap.state_writer.write_state(state_snapshot(self.tap_state))
        manager.is_flushed = True

    def _write_record_message(self, record: dict) -> None:
        self._tap.stop.check()
        self.announce_schema()
        if self.output is Output.SDK:
            super()._write_record_message(record)
            return
        writer = self._tap.message_writer
        writer.write_records(self.name, [record], self._stream_version)
        self.state_manager.is_flushed = False

    def _process_record(
        self,
        record: types.Record,
        child_context: Context | None = None,
        partition_context: Context | None = None,
    ) -> None:
        # The SDK's version walks child contexts and stream maps for every record;
        # a stream without children or partition keys has nothing to do here.
        if self.child_streams or partition_context:
            super()._process_record(record, child_context, partition_context)

    def _increment_stream_state(
        self, latest_record: dict, *, context: Context | None = None
    ) -> None:
        if not self.bookmarks_per_record:
            return
        key = self.replication_key
        self.progress.key_written(latest_record.get(key))
        if key and self.is_sorted and self.check_sorted and not self.state_partitioning_keys:
            # Where the SDK would stop the run over a record older than the bookmark,
            # Klaviyo has sent a page slightly out of its sort order (seen on archived
            # campaigns): the record is written, and the bookmark keeps the largest value.
            value = latest_record.get(key)
            current = self.get_context_state(context).get("replication_key_value")
            if isinstance(value, str) and isinstance(current, str) and value < current:
                if not getattr(self, "_warned_disorder", False):
                    self._warned_disorder = True
                    self.logger.warning(
                        "Stream '%s': Klaviyo sent `%s` out of order (%s after %s); the "
                        "bookmark keeps the largest value written",
                        self.name,
                        key,
                        value,
                        current,
                    )
                return
        super()._increment_stream_state(latest_record, context=context)

    def _write_activate_version_message(self, full_table_version: int) -> None:
        # The SDK announces the new version before the first record, and targets drop
        # older rows at once: a run failing mid-stream would leave the table empty.
        # Held back here, it goes out once every record has been written.
        self._pending_version = full_table_version

    def stamp_records(self, version: int) -> None:
        """Records carry ``version`` (Singer's table version), which ACTIVATE_VERSION
        names once every one of them has been written."""
        self._stream_version = version
        self._pending_version = version

    def send_pending_version(self) -> None:
        version = getattr(self, "_pending_version", None)
        if version is not None:
            self._pending_version = None
            super()._write_activate_version_message(version)

    def _sync_records(
        self, context: Context | None = None, *, write_messages: bool = True
    ) -> Iterator[dict]:
        """The SDK's loop, a page at a time for streams whose output allows it: one
        encode, one write and one bookmark update per page, partitions (events of
        chosen metrics) one after another, each finalised as the SDK does."""
        if not (
            write_messages and context is None and self.output in (Output.PAGES, Output.RENDERED)
        ):
            yield from super()._sync_records(context, write_messages=write_messages)
            return
        record_counter = self.get_record_counter()
        timer = self.get_sync_timer()
        sink = PageSink(
            self._tap.message_writer,
            state_every=self.STATE_MSG_FREQUENCY,
            advance=lambda row, partition: self._increment_stream_state(row, context=partition),
            write_state=self._write_state_message,
            unflushed=lambda: setattr(self.state_manager, "is_flushed", False),
        )
        with record_counter, timer:
            for partition in self.partitions or [None]:
                record_counter.with_context(partition or {})
                timer.with_context(partition or {})
                self._write_starting_replication_value(partition)
                for page in self.request_record_pages(partition):
                    self._tap.stop.check()
                    if not isinstance(page, RenderedPage):
                        rows = self.renderer.finished_rows(page, partition)
                        page = self.renderer.render(rows, self._stream_version)
                    if page.widenings:
                        self.evolving.announce(page.widenings)
                    if page.count:
                        record_counter.increment(sink.write(page, partition))
                if partition is not None:
                    self._finalize_state(self.get_context_state(partition))
            self._finalize_state(self.stream_state)
        self._write_state_message()
        yield from ()


class SdkTapHooks:
    """Mixed into the tap, before the SDK's ``Tap``."""

    def _handle_termination(self, signum: int, frame: Any) -> None:
        # The SDK writes the state and exits at once, while stream threads go on
        # writing records for as long as their requests take. During a sync, the run
        # is stopped instead: every stream ends at its next request or page, and the
        # tap writes its last safe STATE (tap.py). A second signal ends it at once.
        stop = getattr(self, "stop", None)
        if stop is None or not getattr(self, "syncing", False):
            super()._handle_termination(signum, frame)  # type: ignore[misc]
            return
        name = signal.Signals(signum).name
        if not stop.set(f"received {name}"):
            os._exit(128 + signum)
        self.logger.warning("Received %s: stopping after the last safe state", name)  # type: ignore[attr-defined]


def begin_sync(tap: Any) -> None:
    """What the SDK's ``Tap.sync_all`` does before it syncs any stream."""
    tap._reset_state_progress_markers()
    tap._set_compatible_replication_methods()
    if tap.state:
        tap.state_writer.write_state(tap.state)


def write_last_state(tap: Any) -> None:
    """A stopped run's last STATE: a snapshot whose bookmarks cover only records
    already written, after which the writer takes nothing more."""
    with tap.message_writer.last_message():
        tap.state_writer.write_state(state_snapshot(tap.state))
