"""Injected failures: HTTP errors and broken connections, matched by request path."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

FAULT_KINDS = ("status", "reset", "timeout", "truncated", "invalid_json", "stale_cursor")


@dataclass
class Fault:
    """One injected failure rule.

    ``path_pattern`` is a regular expression searched in the request path (percent-decoded,
    without the query string and without a trailing slash). The first ``after`` matching
    requests pass untouched, the next ``times`` ones fail (``times=None``: all of them).

    kinds: ``status`` answers ``status`` with a JSON:API error body (and ``Retry-After`` when
    ``retry_after`` is set); ``reset`` drops the connection without a response; ``timeout``
    waits ``timeout_seconds`` before answering normally; ``truncated`` announces a longer
    Content-Length than it sends and closes; ``invalid_json`` answers 200 with a cut-off body;
    ``stale_cursor`` answers 400 on page[cursor] (only for requests that carry a cursor).
    """

    path_pattern: str
    status: int = 503
    kind: str = "status"
    times: int | None = 1
    after: int = 0
    retry_after: float | None = None
    timeout_seconds: float = 5.0
    method: str | None = None
    seen: int = field(default=0, init=False)
    fired: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {FAULT_KINDS}")
        self._regex = re.compile(self.path_pattern)

    def matches(self, method: str, path: str, query: str = "") -> bool:
        if self.method is not None and self.method.upper() != method:
            return False
        # A stale cursor can only be one the client sent.
        if (
            self.kind == "stale_cursor"
            and "page%5Bcursor%5D=" not in query
            and ("page[cursor]=" not in query)
        ):
            return False
        return self._regex.search(path) is not None

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times


class Faults:
    """Thread-safe set of fault rules; the first rule that fires wins."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def remove(self, fault: Fault) -> None:
        with self._lock:
            # By identity: two rules with equal settings are still different rules.
            self._faults = [f for f in self._faults if f is not fault]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def __iter__(self) -> Iterator[Fault]:
        with self._lock:
            return iter(list(self._faults))

    def __len__(self) -> int:
        with self._lock:
            return len(self._faults)

    def take(self, method: str, path: str, query: str = "") -> Fault | None:
        """Count the request against every matching rule and return the one that fires."""
        with self._lock:
            chosen: Fault | None = None
            for fault in self._faults:
                if fault.exhausted or not fault.matches(method, path, query):
                    continue
                fault.seen += 1
                if chosen is None and fault.seen > fault.after:
                    fault.fired += 1
                    chosen = fault
            return chosen
