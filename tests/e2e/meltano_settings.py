"""Map a Singer plugin's ``--about --format=json`` settings to Meltano setting definitions.

Used by the e2e tests to check that ``meltano.yml`` declares exactly the settings the
plugins declare. When the tap's settings change, rewrite the extractor's block with::

    .venv/bin/python -m tests.e2e.meltano_settings --write     # edits meltano.yml in place
    .venv/bin/python -m tests.e2e.meltano_settings tap-klaviyo  # only prints the YAML
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

MELTANO_YML = Path(__file__).resolve().parents[2] / "meltano.yml"

# Settings a Singer SDK plugin reads but does not list in --about (SDK built-ins).
SDK_UNLISTED = {
    "emit_activate_version_messages": {
        "name": "emit_activate_version_messages",
        "kind": "boolean",
        "label": "Emit ACTIVATE_VERSION messages",
        "description": "Singer SDK built-in: send ACTIVATE_VERSION for full-table streams so "
        "the loader can remove rows deleted in Klaviyo.",
    },
}


def _types(prop: dict[str, Any]) -> set[str]:
    kind = prop.get("type")
    if isinstance(kind, str):
        return {kind}
    if isinstance(kind, list):
        return set(kind)
    found: set[str] = set()
    for key in ("anyOf", "oneOf"):
        for sub in prop.get(key, []):
            if isinstance(sub, dict):
                found |= _types(sub)
    return found


def meltano_kind(prop: dict[str, Any]) -> str:
    types = _types(prop) - {"null"}
    if prop.get("enum"):
        return "options"
    if types == {"boolean"}:
        return "boolean"
    if types == {"integer"}:
        return "integer"
    if types == {"number"}:
        return "decimal"
    if types == {"object"}:
        return "object"
    if types == {"array"}:
        return "array"
    if types == {"string"} and prop.get("format") in ("date-time", "date"):
        return "date_iso8601"
    return "string"


def humanize(name: str) -> str:
    words = name.replace("+", " and ").replace("_", " ").split()
    fixes = {"url": "URL", "api": "API", "ssl": "SSL", "ssh": "SSH", "sqlalchemy": "SQLAlchemy"}
    return " ".join(fixes.get(w.lower(), w) for w in words).capitalize() if words else name


def settings_from_about(about: dict[str, Any]) -> list[dict[str, Any]]:
    """Meltano setting definitions (name, kind, label, description, sensitive, options)."""
    props = about["settings"]["properties"]
    out = []
    for name, prop in props.items():
        setting: dict[str, Any] = {
            "name": name,
            "kind": meltano_kind(prop),
            "label": prop.get("title") or humanize(name),
            "description": prop.get("description") or humanize(name),
        }
        if prop.get("secret"):
            setting["sensitive"] = True
        if prop.get("enum"):
            setting["options"] = [{"label": str(v), "value": v} for v in prop["enum"]]
        out.append(setting)
    return out


def about(executable: str) -> dict[str, Any]:
    result = subprocess.run(
        [executable, "--about", "--format=json"], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)


def to_yaml(settings: list[dict[str, Any]], indent: int = 0) -> str:
    import yaml

    text = yaml.safe_dump({"settings": settings}, sort_keys=False, width=100, allow_unicode=True)
    if indent:
        text = "".join(
            " " * indent + line if line.strip() else line for line in text.splitlines(True)
        )
    return text


def rewrite_extractor_settings(executable: str = "tap-klaviyo", path: Path = MELTANO_YML) -> bool:
    """Replace the tap-klaviyo ``settings:`` block of meltano.yml; True when it changed."""
    settings = settings_from_about(about(executable))
    names = {s["name"] for s in settings}
    settings += [dict(v) for k, v in SDK_UNLISTED.items() if k not in names]
    text = path.read_text(encoding="utf-8")
    start = text.index("  - name: tap-klaviyo\n")
    block = re.compile(r"^    settings:\n(?:^(?:      |    - ).*\n|^\s*\n)*", re.M)
    match = block.search(text, start)
    if match is None:
        raise ValueError("no settings block under tap-klaviyo in meltano.yml")
    new = to_yaml(settings, indent=4)
    updated = text[: match.start()] + new + text[match.end() :]
    if updated != text:
        path.write_text(updated, encoding="utf-8")
    return updated != text


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--write"]:
        changed = rewrite_extractor_settings(*(args[1:2] or ["tap-klaviyo"]))
        print("meltano.yml updated" if changed else "meltano.yml already in sync")
    else:
        print(to_yaml(settings_from_about(about(args[0] if args else "tap-klaviyo"))))
