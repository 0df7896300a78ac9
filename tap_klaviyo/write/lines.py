"""Singer output on a lean path: msgspec serialization and fewer flushes.

The SDK serializes with simplejson and flushes stdout after every message.
Here messages are encoded with msgspec (integers past 64 bits and decimals
stay exact) and stdout is flushed only after messages a target acts on as a
checkpoint (SCHEMA, STATE, ACTIVATE_VERSION), so records go out in large writes.
"""

from __future__ import annotations

import datetime
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import msgspec
from singer_sdk.io_base import SingerWriter
from singer_sdk.singerlib.encoding.simple import Message

from tap_klaviyo.dates import CLOCK


def _fallback(value: Any) -> Any:
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    return str(value)


_encoder = msgspec.json.Encoder(enc_hook=_fallback, decimal_format="number")


def record_lines(
    stream: str, records: list[dict[str, Any]], version: int | None, time_extracted: str
) -> bytes:
    """RECORD messages, one per line."""
    tail: dict[str, Any] = {"time_extracted": time_extracted}
    if version is not None:
        tail = {"version": version, **tail}
    return _encoder.encode_lines(
        [{"type": "RECORD", "stream": stream, "record": record, **tail} for record in records]
    )


class ExtractionClock:
    """``time_extracted`` in the SDK's format, recomputed at most once per millisecond."""

    def __init__(self) -> None:
        self._tick = -1
        self._text = ""

    def now(self) -> str:
        tick = time.monotonic_ns() // 1_000_000
        if tick != self._tick:
            self._tick = tick
            self._text = CLOCK.now().isoformat()
        return self._text


class LeanWriter(SingerWriter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clock = ExtractionClock()
        # Streams run on several threads; each message must reach stdout whole.
        # Re-entrant: the last STATE of a stopped run is written while holding it.
        self._lock = threading.RLock()
        # Once a stopped run has written its last STATE, nothing follows it.
        self._closed = False

    def serialize_message(self, message: Message) -> str:
        return _encoder.encode(message.to_dict()).decode()

    def write_message(self, message: Message) -> None:
        # Encoding happens under the lock too: a STATE is a snapshot of the state
        # at the moment it is written, never mixed with a later change.
        with self._lock:
            if self._closed:
                return
            line = _encoder.encode(message.to_dict()) + b"\n"
            self._write(line, flush=message.type != "RECORD")

    def write_records(
        self, stream: str, records: list[dict[str, Any]], version: int | None
    ) -> None:
        """Records of one stream in one write; a page shares one extraction time."""
        self.write_lines(record_lines(stream, records, version, self.clock.now()))

    def write_lines(self, lines: bytes) -> None:
        """RECORD lines made by ``record_lines``, here or in a worker process."""
        with self._lock:
            if not self._closed:
                self._write(lines, flush=False)

    @contextmanager
    def last_message(self) -> Iterator[None]:
        """Messages written inside are the last: a stream thread still finishing a page
        cannot write after them."""
        with self._lock:
            yield
            sys.stdout.flush()
            self._closed = True

    @staticmethod
    def _write(lines: bytes, *, flush: bool) -> None:
        """Write whole lines (``lines`` ends with a newline)."""
        out = sys.stdout
        binary = getattr(out, "buffer", None)
        if binary is not None:
            binary.write(lines)
        else:  # a text stream without a byte layer, e.g. captured in tests
            out.write(lines.decode())
        if flush:
            out.flush()
