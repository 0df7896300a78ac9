"""tap-klaviyo: the Tap, its settings and its streams."""

from __future__ import annotations

import gc
import io
import json
import sys
import threading
from functools import cached_property
from typing import IO, Any

from singer_sdk import Tap
from singer_sdk.exceptions import ConfigValidationError

from tap_klaviyo.dates import CLOCK
from tap_klaviyo.errors import KlaviyoError, SettingsError
from tap_klaviyo.plan import log_plan
from tap_klaviyo.progress import ProgressLog
from tap_klaviyo.runner import StreamRunner
from tap_klaviyo.sdk import SdkTapHooks, begin_sync, write_last_state
from tap_klaviyo.settings import (
    Settings,
    check_general,
    check_known,
    check_numbers,
    check_stream_starts,
    config_schema,
)
from tap_klaviyo.stopping import Stop
from tap_klaviyo.streams import STREAM_TYPES
from tap_klaviyo.streams.reporting import check_reporting_settings
from tap_klaviyo.write.lines import LeanWriter
from tap_klaviyo.write.render import RenderPool, can_fork, default_processes


def start_order(stream: Any) -> tuple[int, float]:
    """Streams that take longest start first, so the short ones fill in around them:
    high-volume streams read in windows, then those whose own or children's endpoint
    has the smallest quota (e.g. metric_properties at 15 requests a minute)."""

    def quotas(node: Any) -> list[float]:
        own = getattr(node, "operation", None)
        found = [own.steady_per_minute] if own and own.steady_per_minute else []
        for child in node.child_streams:
            if child.selected or child.has_selected_descendents:
                found += quotas(child)
        return found

    return (0 if getattr(stream, "parallel_windows", False) else 1, min(quotas(stream) or [1e9]))


def ended(stream: Any) -> None:
    """A top-level stream's sync ended: so did its children's."""
    stream.progress.end()
    for child in stream.child_streams:
        ended(child)


def check_settings(config: dict[str, Any], known: set[str]) -> None:
    """Catch bad settings before any request, each with a one-line reason."""
    check_numbers(config, TapKlaviyo.config_jsonschema)
    check_general(config)
    check_stream_starts(config, {stream.name for stream in STREAM_TYPES})
    check_reporting_settings(config, SettingsError)
    check_known(config, known)


def checked_file(handle: IO[str], kind: str, check: Any) -> IO[str]:
    """Read a --state or --catalog file, reject it in one line if it is not ours."""
    name = getattr(handle, "name", kind)
    text = handle.read()
    try:
        content = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise SettingsError(f"The {kind} file {name} is not valid JSON: {exc}.") from None
    check(content, name)
    return io.StringIO(text)


def check_state(state: Any, name: str) -> None:
    if not isinstance(state, dict):
        raise SettingsError(f"The state file {name} must hold a JSON object.")
    bookmarks = state.get("bookmarks", {})
    if not isinstance(bookmarks, dict):
        raise SettingsError(f"The state file {name} has `bookmarks` that are not an object.")
    ours = {stream.name for stream in STREAM_TYPES}
    if bookmarks and not ours & set(bookmarks):
        raise SettingsError(
            f"The state file {name} is not from tap-klaviyo: it has bookmarks for "
            f"{', '.join(sorted(bookmarks)[:5])}."
        )


def check_catalog(catalog: Any, name: str) -> None:
    entries = catalog.get("streams") if isinstance(catalog, dict) else None
    if not isinstance(entries, list):
        raise SettingsError(f"The catalog file {name} has no `streams` list.")
    ids = {e.get("tap_stream_id") or e.get("stream") for e in entries if isinstance(e, dict)}
    ours = {stream.name for stream in STREAM_TYPES}
    if not ours & ids:
        found = ", ".join(sorted(str(i) for i in ids)[:5]) or "none"
        raise SettingsError(
            f"The catalog file {name} describes no tap-klaviyo stream (found: {found}); "
            "run `tap-klaviyo --discover` to make one."
        )


class TapKlaviyo(SdkTapHooks, Tap):
    """Singer tap for Klaviyo."""

    name = "tap-klaviyo"
    message_writer_class = LeanWriter
    # The worker processes rendering pages, while a sync runs with them.
    render_pool: RenderPool | None = None

    config_jsonschema = config_schema()

    def __init__(self, *args: Any, validate_config: bool = True, **kwargs: Any) -> None:
        self.run_started_at = CLOCK.now().replace(microsecond=0)
        # Set on the first fatal error or a termination signal; every wait watches it.
        self.stop = Stop()
        self.syncing = False
        try:
            super().__init__(*args, validate_config=validate_config, **kwargs)
        except ConfigValidationError as exc:
            raise SettingsError(f"Invalid settings: {'; '.join(exc.errors)}") from None
        if validate_config:
            known = set(self.config_jsonschema["properties"])
            check_settings(dict(self.config), known)

    @cached_property
    def settings(self) -> Settings:
        return Settings.from_config(self.config)

    def discover_streams(self) -> list:
        return [stream_type(tap=self) for stream_type in STREAM_TYPES]

    def sync_all(self) -> None:
        """Sync the selected streams, several at once.

        Klaviyo's quotas are per endpoint, so streams of different endpoints do
        not slow each other down. Each top-level stream (with its children) runs
        on its own thread; the writer keeps every message whole, a stream's
        SCHEMA precedes its records, and each STATE snapshots bookmarks that
        only cover records already written.
        """
        # Schemas, catalog and modules live for the whole run: kept out of the
        # collector's reach, they are not re-scanned each time decoded pages
        # trigger a collection (a third of the CPU per record otherwise).
        gc.collect()
        gc.freeze()
        # Before anything reads a stream's replication key: the SDK turns parents of
        # some selected children into full-table streams here.
        begin_sync(self)
        processes = self.settings.render_processes
        processes = default_processes() if processes is None else int(processes)
        rendered = [
            s
            for s in self.streams.values()
            if s.selected and getattr(s, "renders_in_processes", False)
        ]
        if processes and rendered and not can_fork():
            self.logger.warning("render_processes needs fork(); pages render in this process")
            processes = 0
        # Forked now, while this is the only thread: what streams look up later reaches
        # the workers with each page (``Renders.lookups``).
        self.render_pool = RenderPool(self.streams, processes) if processes and rendered else None
        try:
            self._prepare_streams()
            self._sync_streams()
        finally:
            if self.render_pool is not None:
                self.render_pool.close()
                self.render_pool = None

    def _prepare_streams(self) -> None:
        """What streams decide once per run before any of them starts (full refreshes,
        the ids of the metrics chosen by name: a wrong name fails the run before any
        record): on a daemon thread, so a stop never waits on a silent Klaviyo."""
        failed: list[BaseException] = []

        def prepare() -> None:
            try:
                for stream in self.streams.values():
                    if stream.selected and hasattr(stream, "prepare_run"):
                        stream.prepare_run()
            except BaseException as exc:  # raised on the tap's own thread below
                failed.append(exc)

        self.syncing = True
        thread = threading.Thread(target=prepare, name="stream-prepare", daemon=True)
        thread.start()
        # Joined, not slept on: a sleep between looks delayed every run's first
        # stream by up to its length, lookups or none.
        while thread.is_alive() and not self.stop.is_set:
            thread.join(0.2)
        self.syncing = False
        if failed:
            raise failed[0]
        if self.stop.is_set:
            raise KlaviyoError(f"The run stopped ({self.stop.reason}) before any stream began.")

    def _sync_streams(self) -> None:
        roots = []
        for stream in self.streams.values():
            if not stream.selected and not stream.has_selected_descendents:
                self.logger.info("Skipping deselected stream '%s'.", stream.name)
            elif not stream.parent_stream_type:
                roots.append(stream)
        workers = self.settings.streams_at_once
        if workers > 1:
            roots.sort(key=start_order)
        log_plan(self.logger, [s for s in self.streams.values() if s.selected], workers)
        self.syncing = True
        selected = [s for s in self.streams.values() if s.selected]
        progress = ProgressLog(selected, self.logger, float(self.settings.progress_seconds))
        try:
            with progress:
                runner = StreamRunner(roots, workers, self.stop, self.logger, finished=ended)
                error = runner.run()
        finally:
            self.syncing = False
        if self.stop.is_set:
            write_last_state(self)
        for stream in self.streams.values():
            stream.log_sync_costs()
        for line in progress.summary():
            self.logger.info("%s", line)
        if error is not None:
            raise error
        if self.stop.is_set:
            raise KlaviyoError(
                f"The run stopped ({self.stop.reason}); its last STATE covers every record "
                "written, and the next run resumes from it."
            )

    @classmethod
    def cb_config(cls, ctx: Any, param: Any, value: tuple[str, ...]) -> Any:
        try:
            return super().cb_config(ctx, param, value)
        except FileNotFoundError as exc:
            cls.logger.error("%s", exc)
            ctx.exit(2)
        except ValueError as exc:  # JSON decode errors are ValueErrors
            names = ", ".join(v for v in value if v != "ENV")
            cls.logger.error("The config file %s is not valid JSON: %s.", names, exc)
            ctx.exit(2)

    @classmethod
    def invoke(cls, *args: Any, **kwargs: Any) -> None:
        try:
            for name, check in (("state", check_state), ("catalog", check_catalog)):
                if kwargs.get(name) is not None:
                    kwargs[name] = checked_file(kwargs[name], name, check)
            super().invoke(*args, **kwargs)
        except SettingsError as exc:
            cls.logger.error("%s", exc)
            sys.exit(2)
        except KlaviyoError as exc:
            cls.logger.error("%s", exc)
            sys.exit(1)


if __name__ == "__main__":
    TapKlaviyo.cli()
