"""The README's settings and stream tables match the tap."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_readme_tables_are_current() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/docs_tables.py", "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "scripts/test" in readme and "scripts/test" in ci
