"""meltano.yml declares what the plugins declare: settings, kinds, secrets, capabilities."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.meltano_settings import SDK_UNLISTED, about, settings_from_about, to_yaml

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[2]
TAP = str(Path(sys.executable).parent / "tap-klaviyo")
TARGET = ROOT / ".meltano" / "loaders" / "target-postgres" / "venv" / "bin" / "target-postgres"

# target-postgres does not flag these as secret in --about, but they hold credentials.
LOADER_SENSITIVE = {"password", "sqlalchemy_url", "ssl_client_private_key", "ssh_tunnel"}


def project() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))


def plugin(kind: str, name: str) -> dict[str, Any]:
    (found,) = [p for p in project()["plugins"][kind] if p["name"] == name]
    return found


def compare(declared: list[dict[str, Any]], expected: list[dict[str, Any]], extra_ok=()) -> list:
    problems = []
    by_name = {s["name"]: s for s in declared}
    want = {s["name"]: s for s in expected}
    for name in sorted(set(want) - set(by_name)):
        problems.append(f"missing in meltano.yml: {name}")
    for name in sorted(set(by_name) - set(want) - set(extra_ok)):
        problems.append(f"declared in meltano.yml but not by the plugin: {name}")
    for name in sorted(set(want) & set(by_name)):
        have, exp = by_name[name], want[name]
        if have.get("kind", "string") != exp["kind"]:
            problems.append(f"{name}: kind {have.get('kind')!r}, plugin says {exp['kind']!r}")
        if bool(have.get("sensitive")) != bool(exp.get("sensitive")):
            problems.append(
                f"{name}: sensitive={have.get('sensitive')}, expected {exp.get('sensitive')}"
            )
    for setting in declared:
        if not setting.get("label") or not setting.get("description"):
            problems.append(f"{setting['name']}: needs a label and a description")
    return problems


def test_extractor_settings_match_tap_about():
    expected = settings_from_about(about(TAP))
    declared = plugin("extractors", "tap-klaviyo")["settings"]
    problems = compare(declared, expected, extra_ok=SDK_UNLISTED)
    assert not problems, (
        "meltano.yml's tap-klaviyo settings differ from `tap-klaviyo --about`:\n  "
        + "\n  ".join(problems)
        + "\nFix: .venv/bin/python -m tests.e2e.meltano_settings --write  (generated block:)\n"
        + to_yaml(expected)
    )


def test_extractor_capabilities_match_tap_about():
    declared = set(plugin("extractors", "tap-klaviyo")["capabilities"])
    assert declared == set(about(TAP)["capabilities"])


def test_extractor_is_declared_in_full():
    tap = plugin("extractors", "tap-klaviyo")
    assert "variant" not in tap  # no Meltano Hub look-ups
    assert tap["namespace"] == "tap_klaviyo"
    assert tap["pip_url"] == "-e ."
    assert tap["executable"] == "tap-klaviyo"
    target = plugin("loaders", "target-postgres")
    assert "variant" not in target
    assert target["pip_url"].startswith("meltanolabs-target-postgres")
    assert target["config"]["activate_version"] is True
    assert target["config"]["add_record_metadata"] is True  # activate_version needs it


def test_transformer_is_declared_in_full():
    """dbt-postgres needs no Hub look-up, runs transform/ and connects where the loader
    writes: every connection setting defaults to target-postgres' own variable, and
    profiles.yml reads each from the variable Meltano sets for it."""
    dbt = plugin("transformers", "dbt-postgres")
    assert "variant" not in dbt
    assert (dbt["namespace"], dbt["executable"]) == ("dbt_postgres", "dbt")
    assert "dbt-postgres~=" in dbt["pip_url"] and "dbt-core~=" in dbt["pip_url"]
    assert {"run", "test", "build"} <= set(dbt["commands"])
    settings = {s["name"]: s for s in dbt["settings"]}
    assert settings["project_dir"]["value"] == "$MELTANO_PROJECT_ROOT/transform"
    profiles_dir = settings["profiles_dir"]["value"].replace("$MELTANO_PROJECT_ROOT", str(ROOT))
    profiles = (Path(profiles_dir) / "profiles.yml").read_text(encoding="utf-8")
    loader = {"host": "HOST", "port": "PORT", "user": "USER", "password": "PASSWORD"}
    for name, variable in {**loader, "dbname": "DATABASE"}.items():
        assert dbt["config"][name] == f"$TARGET_POSTGRES_{variable}", name
        assert f"env_var('DBT_POSTGRES_{name.upper()}'" in profiles, name
    assert settings["password"].get("sensitive") is True
    assert (ROOT / "transform" / "dbt_project.yml").exists()


def test_account_extractors_inherit_the_tap_with_their_own_key_schema_and_id():
    accounts = [p for p in project()["plugins"]["extractors"] if p.get("inherit_from")]
    assert accounts, "meltano.yml has no example of one extractor per account"
    schemas = set()
    for extractor in accounts:
        assert extractor["inherit_from"] == "tap-klaviyo"
        variable = extractor["name"].upper().replace("-", "_") + "_API_KEY"
        # Its own variable only: an unset key must not fall back to tap-klaviyo's.
        assert extractor["config"]["api_key"] == f"${variable}"
        assert extractor["config"]["account_id"]
        schemas.add(extractor["load_schema"])
    assert len(schemas) == len(accounts) and "tap_klaviyo" not in schemas


def _tap_accepts(setting: str, value: Any, tmp_path: Path) -> bool:
    """Does a sync (of no stream) start with this setting, or is it rejected?"""
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps({"api_key": "pk_check", "api_url": "http://127.0.0.1:9", setting: value})
    )
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps({"streams": []}))
    result = subprocess.run(
        [TAP, "--config", str(config), "--catalog", str(catalog)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return f"Unknown setting `{setting}`" not in result.stderr


def test_deletes_are_propagated_by_default(tmp_path):
    """meltano.yml switches ACTIVATE_VERSION on, and the tap accepts the setting (an
    unknown setting would make every `meltano run` fail)."""
    config = plugin("extractors", "tap-klaviyo").get("config") or {}
    assert config.get("emit_activate_version_messages") is True
    assert _tap_accepts("emit_activate_version_messages", True, tmp_path)
    loader = plugin("loaders", "target-postgres")["config"]
    assert loader["activate_version"] is True and loader["add_record_metadata"] is True


@pytest.mark.e2e
def test_loader_settings_match_target_about(meltano):
    """Needs the installed target-postgres (the meltano fixture runs `meltano install`)."""
    expected = settings_from_about(about(str(TARGET)))
    for setting in expected:
        if setting["name"] in LOADER_SENSITIVE:
            setting["sensitive"] = True
    declared = plugin("loaders", "target-postgres")["settings"]
    problems = compare(declared, expected)
    assert not problems, "meltano.yml's target-postgres settings drifted:\n  " + "\n  ".join(
        problems
    )


@pytest.mark.e2e
def test_meltano_selects_the_tap_defaults(meltano, tmp_path):
    """meltano.yml's select patterns pick exactly the streams the tap selects by default
    (the reporting streams, with their tiny rate limits, stay opt-in)."""
    from tests.e2e.conftest import selected_by_default

    discovered = json.loads(meltano("invoke", "tap-klaviyo", "--discover").stdout)
    defaults = {e["tap_stream_id"] for e in discovered["streams"] if selected_by_default(e)}
    rows = meltano.json("select", "tap-klaviyo", "--json", "--all")["streams"]
    chosen = {r["stream"] for r in rows if r["selection"] in ("selected", "automatic")}
    assert chosen == defaults, (
        f"selected by meltano.yml only: {sorted(chosen - defaults)}; "
        f"selected by default in the tap only: {sorted(defaults - chosen)}"
    )


def test_the_simulator_environment_shows_progress_while_it_runs(meltano, session_sim, schema):
    """scripts/run reads the simulator in the Meltano environment `simulator`, whose account
    loads in seconds: its `progress_seconds` makes the progress lines show there too."""
    from tests.e2e.conftest import sim_env

    env = sim_env(session_sim, schema, select=["metrics", "metric_properties"])
    result = meltano(
        "--environment",
        "simulator",
        "run",
        f"--state-id-suffix={schema}",
        "tap-klaviyo",
        "target-postgres",
        env=env,
    )
    # metric_properties: a request per metric at 15 a minute (3 at once), several seconds.
    progress = [
        line for line in result.stderr.splitlines() if "Progress: metric_properties:" in line
    ]
    assert progress, result.stderr[-3000:]
    properties = session_sim.data.count("metric-property")
    assert f"Summary: metric_properties: {properties} records" in result.stderr
