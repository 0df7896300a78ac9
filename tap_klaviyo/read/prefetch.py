"""Child prefetch: a parent's page names the children's contexts, and their first
pages are fetched on worker threads while the parent's records are written, so a
child stream read once per parent does not wait a round trip per parent."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tap_klaviyo.read.feeds import Feed, FeedPool
from tap_klaviyo.read.pages import Produce
from tap_klaviyo.stopping import NEVER, Stop


def context_key(context: Mapping[str, Any] | None) -> tuple:
    return tuple(sorted((k, str(v)) for k, v in (context or {}).items()))


class Prefetcher:
    """Feeds of one child stream, keyed by context, taken in the order started."""

    def __init__(self, workers: int, name: str, stop: Stop = NEVER) -> None:
        self._pool = FeedPool(workers, name=f"{name}-prefetch", stop=stop)

    def __contains__(self, context: Mapping[str, Any]) -> bool:
        return context_key(context) in self._pool

    def start(self, context: Mapping[str, Any], produce: Produce) -> None:
        self._pool.submit(context_key(context), produce)

    def take(self, context: Mapping[str, Any] | None) -> Feed | None:
        """This context's feed; contexts started before it and never taken (their
        parents' records were filtered out) are cancelled."""
        return self._pool.take(context_key(context))

    def close(self) -> None:
        self._pool.close()
