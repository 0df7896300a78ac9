"""Render the README's settings and stream tables from the tap itself.

    python scripts/docs_tables.py          # rewrite the tables in README.md
    python scripts/docs_tables.py --check  # exit 1 when README.md is out of date

The tables sit between `<!-- settings:start -->`/`<!-- settings:end -->` and
`<!-- streams:start -->`/`<!-- streams:end -->` markers.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tap_klaviyo.client import KlaviyoStream  # noqa: E402
from tap_klaviyo.pairs import RelatedIdsStream  # noqa: E402
from tap_klaviyo.streams import STREAM_TYPES  # noqa: E402
from tap_klaviyo.tap import TapKlaviyo  # noqa: E402

README = ROOT / "README.md"
# Built-in SDK settings are documented by the SDK; the table lists the tap's own.
SDK_SETTINGS = {
    "stream_maps",
    "stream_map_config",
    "faker_config",
    "flattening_enabled",
    "flattening_max_depth",
    "flattening_max_key_length",
    "flattening_separator",
    "batch_config",
}


def settings_table() -> str:
    schema = TapKlaviyo.config_jsonschema
    required = set(schema.get("required", []))
    rows = ["| setting | required | default | description |", "|---|---|---|---|"]
    for name, prop in schema["properties"].items():
        if name in SDK_SETTINGS:
            continue
        default = prop.get("default")
        shown = "" if default is None else f"`{json.dumps(default)}`"
        description = " ".join(str(prop.get("description", "")).split())
        rows.append(
            f"| `{name}` | {'yes' if name in required else 'no'} | {shown} | {description} |"
        )
    return "\n".join(rows)


def stream_row(stream_type: type) -> str:
    keys = ", ".join(stream_type.primary_keys)
    replication = getattr(stream_type, "replication_key", None)
    replication = replication if isinstance(replication, str) else ""
    parent = stream_type.parent_stream_type.name if stream_type.parent_stream_type else ""
    if issubclass(stream_type, KlaviyoStream):
        operation = stream_type.spec_operation()
        endpoint = f"{operation.method} `{operation.path}`"
        scopes = ", ".join(operation.scopes)
    elif issubclass(stream_type, RelatedIdsStream):
        parent_type: Any = stream_type.parent_stream_type
        endpoint = f"`include={stream_type.relationship}` on {parent_type.name}"
        scopes = ", ".join(parent_type.spec_operation().scopes)
    else:  # streams that build their own requests describe themselves
        endpoint = getattr(stream_type, "endpoint_summary", "")
        scopes = getattr(stream_type, "scope_summary", "")
    replication = f"`{replication}`" if replication else "full table"
    if getattr(stream_type, "full_refresh_setting", None):
        replication += f" (in full every `{stream_type.full_refresh_setting}`)"
    default = "yes" if getattr(stream_type, "selected_by_default", True) else "opt-in"
    add_on = getattr(stream_type, "paid_add_on", None)
    if add_on:
        default += f" ({add_on})"
    return (
        f"| `{stream_type.name}` | {endpoint} | {keys} | {replication} | {parent} | {scopes} "
        f"| {default} |"
    )


def streams_table() -> str:
    rows = [
        "| stream | endpoint | primary key | replication | parent | scopes | selected |",
        "|---|---|---|---|---|---|---|",
    ]
    rows += [stream_row(stream_type) for stream_type in STREAM_TYPES]
    return "\n".join(rows)


def render(text: str) -> str:
    for name, table in (("settings", settings_table()), ("streams", streams_table())):
        pattern = re.compile(
            rf"(<!-- {name}:start -->\n)(?:.*?\n)?(<!-- {name}:end -->)", flags=re.DOTALL
        )
        if not pattern.search(text):
            raise SystemExit(f"README.md has no <!-- {name}:start/end --> markers")
        text = pattern.sub(lambda m, table=table: f"{m.group(1)}{table}\n{m.group(2)}", text)
    return text


def main(argv: list[str]) -> int:
    current = README.read_text(encoding="utf-8")
    wanted = render(current)
    if "--check" in argv:
        if wanted != current:
            print("README.md tables are out of date: run python scripts/docs_tables.py")
            return 1
        return 0
    README.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
