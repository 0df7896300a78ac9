"""Which way a stream's records go out, decided once per stream by a small table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum


class Output(Enum):
    # The SDK's conform-and-map path, record by record.
    SDK = "sdk"
    # The SDK's record loop, each record encoded lean (msgspec, no conforming: records
    # are plain JSON already).
    RECORDS = "records"
    # A page at a time: one encode, one write, one bookmark update per page.
    PAGES = "pages"
    # A page at a time, rendered into lines in worker processes when the tap runs them.
    RENDERED = "rendered"


@dataclass(frozen=True)
class OutputFacts:
    # The tap writes with the lean writer, through one stream map that keeps records
    # as they are (no aliasing, filtering or flattening), with every property selected.
    plain: bool
    # Records come from the read path's pages (report streams assemble theirs).
    reads_pages: bool
    # The SDK's per-record loop has work to do: the stream is not selected (only its
    # children are), has children or a parent, partitions its state by context keys,
    # or a dry run limits the record count.
    per_record_work: bool
    # Pages come from parallel time slices, faster than one thread renders them.
    sliced: bool


# The first row whose condition holds decides.
OUTPUT_TABLE: tuple[tuple[Callable[[OutputFacts], bool], Output], ...] = (
    (lambda facts: not facts.plain, Output.SDK),
    (lambda facts: not facts.reads_pages or facts.per_record_work, Output.RECORDS),
    (lambda facts: facts.sliced, Output.RENDERED),
    (lambda facts: True, Output.PAGES),
)


def choose_output(facts: OutputFacts) -> Output:
    return next(output for condition, output in OUTPUT_TABLE if condition(facts))
