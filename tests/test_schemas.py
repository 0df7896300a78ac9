"""The committed schemas are exactly what scripts/generate_schemas.py makes from the spec."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

SPEC = ROOT.parent / "shared" / "klaviyo-openapi" / "stable.json"


@pytest.mark.skipif(
    not SPEC.exists(),
    reason=f"Klaviyo's OpenAPI spec is not at {SPEC}: schemas cannot be regenerated here",
)
def test_committed_schemas_match_the_generator() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/generate_schemas.py", str(SPEC), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert result.returncode == 0, (
        "committed schemas differ from the spec; run python scripts/generate_schemas.py\n"
        + result.stdout
        + result.stderr
    )


def test_every_stream_has_a_committed_schema() -> None:
    from tap_klaviyo.streams import STREAM_TYPES

    missing = [
        stream.name
        for stream in STREAM_TYPES
        if not (ROOT / "tap_klaviyo" / "schemas" / f"{stream.name}.json").exists()
    ]
    assert not missing
