"""How long time slices are: how many pages a slice is planned for, and how much time
holds that many records, judged from the pages already read (read/slices.py uses them)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from tap_klaviyo.dates import whole_second

# Pages per slice: few enough that a dense stretch is spread over many workers,
# enough that the last, part-full page of a slice is rare. A task reads one more (a
# slice usually finishes in one task); those, one more after a split ahead, fit in its
# piece's feed.
SLICE_PAGES = 3
TASK_PAGES = SLICE_PAGES + 1
SECOND = timedelta(seconds=1)
# Slices are planned for this many times as many pages as were seen at the density
# they are sized for; the rest of a piece's range is one piece, read (and split) in turn.
HORIZON = 2
# Pages whose densities differ less than this many times count as one stretch.
STEADY = 4
_LONGEST = 10**6 * 86_400.0  # seconds: far longer than any run, far from overflowing


def pages_per_slice(workers: int, steady_per_minute: int | None) -> int:
    """Twice SLICE_PAGES where the endpoint's steady quota is below a request a second per
    worker: the quota, not the workers, bounds such a read, and each slice ends on a
    part-full page, so longer slices spend less of the quota on them."""
    quota_bound = steady_per_minute is not None and 0 < steady_per_minute < 60 * workers
    return 2 * SLICE_PAGES if quota_bound else SLICE_PAGES


def plan_slices(
    low: datetime, high: datetime, size: timedelta, count: int
) -> list[tuple[datetime, datetime]]:
    """[low, high) as slices of ``size`` (whole seconds, at least one), at most
    ``count`` of them: the last takes the rest."""
    step = max(SECOND, timedelta(seconds=int(size.total_seconds())))
    slices = []
    while len(slices) < count - 1 and step < high - low:
        slices.append((low, low + step))
        low += step
    slices.append((low, high))
    return slices


def slice_size(
    keyed: list[list[datetime]], floor: datetime, boundary: datetime, target_records: int
) -> timedelta:
    """How long a slice holding ``target_records`` records is, judged from the keys of
    the pages read of [floor, boundary). A second holding more than a page (a bulk
    import) counts as one page: it says little about its neighbours."""
    per_second = Counter(
        whole_second(key) for keys in keyed for key in keys if floor <= key < boundary
    )
    page = max(len(keys) for keys in keyed)
    records = max(1, sum(min(count, page) for count in per_second.values()))
    seconds = (boundary - floor).total_seconds()
    return timedelta(seconds=min(target_records * seconds / records, _LONGEST))


def steady_pages(keyed: list[list[datetime]]) -> int:
    """How many of the pages, counted back from the last, have about its density
    (records a second over the page's reach): density seen before a jump (a quiet year
    before growth, a gap before a burst) says nothing of what follows."""

    def density(keys: list[datetime]) -> float:
        reach = (max(keys) - min(keys)).total_seconds()
        return len(keys) / max(reach, 1.0)

    last = density(keyed[-1])
    count = 1
    for keys in reversed(keyed[:-1]):
        if not last / STEADY <= density(keys) <= last * STEADY:
            break
        count += 1
    return count
