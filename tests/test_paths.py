"""Which way a stream's records go out: the output table, and the path it picks for the
tap's own streams."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tap_klaviyo.tap import TapKlaviyo
from tap_klaviyo.write.paths import Output, OutputFacts, choose_output
from tests.conftest import catalog_for


def expected(facts: OutputFacts) -> Output:
    # The table's decisions, in order: a stream map, a non-lean writer or a narrowed
    # selection needs the SDK's conform-and-map path; records assembled by the stream or
    # per-record work (children, parents, partitioned state, dry runs) go one at a time;
    # sliced pages render a page at a time in worker processes; the rest a page at a time.
    if not facts.plain:
        return Output.SDK
    if not facts.reads_pages or facts.per_record_work:
        return Output.RECORDS
    if facts.sliced:
        return Output.RENDERED
    return Output.PAGES


ALL_FACTS = [OutputFacts(*values) for values in itertools.product([False, True], repeat=4)]


@pytest.mark.parametrize("facts", ALL_FACTS, ids=repr)
def test_the_output_table(facts: OutputFacts) -> None:
    assert choose_output(facts) is expected(facts)


def test_each_output_is_reachable() -> None:
    assert {choose_output(facts) for facts in ALL_FACTS} == set(Output)


@pytest.mark.parametrize(
    ("stream", "output"),
    [
        # Read in parallel time slices, no children.
        ("events", Output.RENDERED),
        ("profiles", Output.RENDERED),
        # Top-level, no children, read serially.
        ("tags", Output.PAGES),
        ("templates", Output.PAGES),
        # Parents of selected children, and children.
        ("lists", Output.RECORDS),
        ("list_members", Output.RECORDS),
        ("metric_properties", Output.RECORDS),
    ],
)
def test_the_taps_streams_by_default(tap: TapKlaviyo, stream: str, output: Output) -> None:
    assert tap.streams[stream].output is output


def selected(config: dict[str, Any], streams: list[str]) -> TapKlaviyo:
    return TapKlaviyo(config=config, catalog=catalog_for(config, streams))


def test_report_streams_assemble_their_records() -> None:
    tap = selected({"api_key": "pk_unit"}, ["campaign_values_reports"])
    assert tap.streams["campaign_values_reports"].output is Output.RECORDS


def test_a_parent_read_only_for_its_children_takes_the_sdk_path() -> None:
    tap = selected({"api_key": "pk_unit"}, ["list_members"])
    assert tap.streams["lists"].output is Output.SDK
    assert tap.streams["list_members"].output is Output.RECORDS


def test_a_stream_map_sends_its_stream_through_the_sdk() -> None:
    tap = TapKlaviyo(config={"api_key": "pk_unit", "stream_maps": {"tags": {"id": "id"}}})
    assert tap.streams["tags"].output is Output.SDK
    assert tap.streams["templates"].output is Output.PAGES


def test_events_of_chosen_metrics_still_render_a_page_at_a_time() -> None:
    tap = TapKlaviyo(config={"api_key": "pk_unit", "event_metric_ids": ["m1", "m2"]})
    assert tap.streams["events"].output is Output.RENDERED
