"""Settings, discovery and the command line, as a user meets them."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from tests.conftest import catalog_for, run_cli


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "ERROR" in line]


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"api_key": ""}, "`api_key`"),
        ({"start_date": "last tuesday"}, "`start_date`"),
        ({"end_date": "2024-13-45"}, "`end_date`"),
        ({"start_date": "2024-05-01T00:00:00Z", "end_date": "2024-04-01T00:00:00Z"}, "`end_date`"),
        ({"revision": "v3"}, "`revision`"),
        ({"api_url": "a.klaviyo.com"}, "`api_url`"),
        ({"start_dat": "2024-01-01T00:00:00Z"}, "Did you mean `start_date`?"),
        ({"max_workers": "eight"}, "config['max_workers']"),
        ({"render_processes": -1}, "`render_processes`"),
        ({"event_metric_ids": "abc"}, "config['event_metric_ids']"),
    ],
)
def test_bad_setting_fails_with_one_line_naming_it(
    sim: Any, write_json: Any, settings: dict[str, Any], named: str
) -> None:
    config = {"api_key": sim.api_key, "api_url": sim.url, **settings}
    result = run_cli(["--config", str(write_json("config.json", config))])
    assert result.returncode == 2, result.stderr
    errors = error_lines(result.stderr)
    assert len(errors) == 1, result.stderr
    assert named in errors[0]
    assert "Traceback" not in result.stderr
    assert sim.requests == []


def test_discover_needs_no_key_and_makes_no_request(sim: Any, write_json: Any) -> None:
    result = run_cli(
        ["--config", str(write_json("config.json", {"api_url": sim.url})), "--discover"]
    )
    assert result.returncode == 0, result.stderr
    catalog = json.loads(result.stdout)
    streams = {entry["tap_stream_id"]: entry for entry in catalog["streams"]}
    assert streams["list_members"]["key_properties"] == ["list_id", "profile_id"]
    assert streams["events"]["replication_key"] == "datetime"
    assert streams["campaigns"]["schema"]["properties"]["channel"] == {"type": ["string", "null"]}
    assert sim.requests == []


def test_about_markdown_lists_settings() -> None:
    result = run_cli(["--about", "--format=markdown"])
    assert result.returncode == 0, result.stderr
    for setting in ("api_key", "start_date", "end_date", "api_url", "revision"):
        assert f"| {setting}" in result.stdout


def test_parallel_streams_interleave_valid_singer_output(write_json: Any) -> None:
    from klaviyo_sim import KlaviyoSimulator
    from tests.conftest import TapRun

    # Latency keeps several streams in flight at once, so their output interleaves.
    with KlaviyoSimulator(latency=0.02, reality=True) as slow:
        config = {"api_key": slow.api_key, "api_url": slow.url, "parallel_streams": 4}
        result = run_cli(["--config", str(write_json("config.json", config))], timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    run = TapRun.parse(result.stdout.splitlines())
    order = [m["stream"] for m in run.messages if m["type"] == "RECORD"]
    switches = sum(1 for a, b in itertools.pairwise(order) if a != b)
    assert switches > len(run.records), "streams ran one after another"

    schema_seen: set[str] = set()
    newest: dict[str, str] = {}
    keys = {"profiles": "updated", "events": "datetime", "templates": "updated"}
    for message in run.messages:
        if message["type"] == "SCHEMA":
            schema_seen.add(message["stream"])
        elif message["type"] == "RECORD":
            stream = message["stream"]
            assert stream in schema_seen, f"RECORD of {stream} before its SCHEMA"
            if stream in keys:
                value = message["record"][keys[stream]]
                newest[stream] = max(newest.get(stream, value), value)
        elif message["type"] == "STATE":
            for stream in keys:
                bookmark = message["value"]["bookmarks"].get(stream, {})
                value = bookmark.get("replication_key_value")
                if value is not None:
                    assert stream in newest and value <= newest[stream], (stream, value)


def test_longest_streams_start_first() -> None:
    from tap_klaviyo.tap import TapKlaviyo, start_order

    tap = TapKlaviyo(config={"api_key": "pk_order"})
    roots = [s for s in tap.streams.values() if s.selected and not s.parent_stream_type]
    order = [s.name for s in sorted(roots, key=start_order)]
    # Windowed high-volume streams first, then the smallest quotas: metrics waits on
    # metric_properties' 15 requests a minute, catalog items have 3,500.
    assert order[:2] == ["profiles", "events"]
    assert order.index("metrics") < order.index("tags") < order.index("catalog_items")


def test_the_default_leaves_the_short_streams_threads_of_their_own() -> None:
    from tap_klaviyo.tap import TapKlaviyo, start_order

    tap = TapKlaviyo(config={"api_key": "pk_order"})
    roots = [s for s in tap.streams.values() if s.selected and not s.parent_stream_type]
    order = [s.name for s in sorted(roots, key=start_order)]
    # The streams that last the whole run on a real account (read in windows, or metrics
    # waiting on metric_properties' 15 requests a minute) start first and each hold a
    # thread; with 4 threads the two dozen short streams queued for the one left, one
    # after another, for longer than the long ones took (14-18 s of a 19-23 s full sync).
    long = {"events", "profiles", "metrics"}
    assert long <= set(order[: tap.settings.streams_at_once])
    assert tap.settings.streams_at_once - len(long) >= 5
    assert len(roots) - len(long) > 20


@pytest.mark.parametrize(
    ("kind", "content", "says"),
    [
        ("config", '{"api_key": ', "The config file {path} is not valid JSON"),
        ("state", "{not json", "The state file {path} is not valid JSON"),
        ("state", '{"bookmarks": {"orders": {}}}', "The state file {path} is not from tap-klaviyo"),
        ("state", "[1, 2]", "The state file {path} must hold a JSON object"),
        ("catalog", '{"streams": [{"tap_stream_id": "orders"}]}', "describes no tap-klaviyo"),
        ("catalog", '{"items": []}', "The catalog file {path} has no `streams` list"),
    ],
)
def test_bad_file_fails_with_one_line_naming_it(
    sim: Any, tmp_path: Any, kind: str, content: str, says: str
) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"api_key": sim.api_key, "api_url": sim.url}))
    bad = tmp_path / f"{kind}.json"
    bad.write_text(content)
    args = ["--config", str(bad if kind == "config" else config)]
    if kind != "config":
        args += [f"--{kind}", str(bad)]
    result = run_cli(args)
    assert result.returncode == 2, result.stderr
    errors = error_lines(result.stderr)
    assert len(errors) == 1, result.stderr
    assert says.format(path=bad) in errors[0]
    assert "Traceback" not in result.stderr
    assert sim.requests == []


def test_key_from_the_environment(sim: Any, write_json: Any) -> None:
    config = write_json("config.json", {"api_url": sim.url})
    catalog = write_json("catalog.json", catalog_for({"api_key": "x"}, ["tags"]))
    result = run_cli(
        ["--config", str(config), "--config", "ENV", "--catalog", str(catalog)],
        env={"TAP_KLAVIYO_API_KEY": sim.api_key},
    )
    assert result.returncode == 0, result.stderr
    assert '"stream":"tags"' in result.stdout
    auth = {r.headers.get("authorization") for r in sim.requests}
    assert auth == {f"Klaviyo-API-Key {sim.api_key}"}
    assert sim.api_key not in result.stderr
