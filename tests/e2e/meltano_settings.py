"""Map a Singer plugin's ``--about --format=json`` settings to Meltano setting definitions.

Used by the e2e tests to check that ``meltano.yml`` declares exactly the settings the
plugins declare, and to print the YAML to paste when they drift apart::

    python -m tests.e2e.meltano_settings tap-klaviyo
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

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


def to_yaml(settings: list[dict[str, Any]]) -> str:
    import yaml

    return yaml.safe_dump({"settings": settings}, sort_keys=False, width=88)


if __name__ == "__main__":
    print(to_yaml(settings_from_about(about(sys.argv[1] if len(sys.argv) > 1 else "tap-klaviyo"))))
