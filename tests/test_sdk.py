"""The one module that uses singer-sdk's private members is pinned to the SDK release it
was checked against."""

from __future__ import annotations

import importlib.metadata
import re

from singer_sdk import Stream, Tap

from tap_klaviyo.sdk import SDK_CHECKED
from tests.conftest import ROOT


def test_the_installed_sdk_is_the_one_sdk_py_was_checked_against() -> None:
    """Fails on any singer-sdk upgrade, on purpose, until tap_klaviyo/sdk.py is checked
    again: it overrides and reads the SDK's private members (``Stream._sync_records``,
    ``_write_record_message``, ``_write_state_message``, ``_process_record``,
    ``_write_activate_version_message``, ``_increment_stream_state``, ``Tap.sync_all``'s
    first steps), which may change in any release. Read them in the new release, compare
    them with sdk.py, then raise ``SDK_CHECKED`` and the pin in pyproject.toml."""
    assert importlib.metadata.version("singer-sdk") == SDK_CHECKED


def test_pyproject_pins_the_checked_release() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    # The package and its testing extra, each "singer-sdk[extras]~=<release>".
    requirements = re.findall(r'"(singer-sdk[^"]*)"', text)
    pins = [re.fullmatch(r"singer-sdk(\[[a-z,]+\])?~=([0-9.]+)", r) for r in requirements]
    assert requirements and all(pins), requirements
    assert {pin[2] for pin in pins if pin} == {SDK_CHECKED}


def test_the_private_members_sdk_py_relies_on_exist() -> None:
    # Each is read, called or overridden in tap_klaviyo/sdk.py.
    for name in (
        "_sync_records",
        "_write_record_message",
        "_write_state_message",
        "_process_record",
        "_write_activate_version_message",
        "_increment_stream_state",
        "_finalize_state",
        "_write_starting_replication_value",
    ):
        assert callable(getattr(Stream, name, None)), name
    for name in ("_reset_state_progress_markers", "_set_compatible_replication_methods"):
        assert callable(getattr(Tap, name, None)), name
