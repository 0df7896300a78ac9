"""The package layout holds: the engine (transport/, read/, write/) never reaches the
stream classes, only sdk.py touches singer-sdk's private members, and no class or
module grows past a size one person can keep in mind."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "tap_klaviyo"
ENGINE = ("transport", "read", "write")
# What the engine must not import, directly or through other tap_klaviyo modules.
FORBIDDEN = ("singer_sdk.streams", "tap_klaviyo.client", "tap_klaviyo.streams")
# singer_sdk re-exports these from singer_sdk.streams.
SDK_STREAM_NAMES = {"streams", "Stream", "RESTStream", "GraphQLStream", "SQLStream"}
# singer-sdk's private members; tap_klaviyo/sdk.py is the one module that may use them.
SDK_PRIVATE = {
    "_tap",
    "_stream_version",
    "_write_state_message",
    "_sync_records",
    "_increment_stream_state",
    "_finalize_state",
    "_write_starting_replication_value",
    "_write_record_message",
    "_process_record",
    "_write_activate_version_message",
    "_reset_state_progress_markers",
    "_set_compatible_replication_methods",
    "_state_writer",
}
MAX_CLASS_LINES = 300
MAX_MODULE_LINES = 450


def module_name(path: Path, package: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_path(name: str, package: Path) -> Path | None:
    """The file of a module of ``package``, if ``name`` is one."""
    base = package.parent.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imports(path: Path, package: Path) -> Iterator[tuple[list[str], str]]:
    """Each import statement of a file (conditional and local ones too): the modules it
    may reach, and the statement as written."""
    name = module_name(path, package)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield [alias.name], f"import {alias.name}"
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = name.split(".")
                anchor = anchor if path.name == "__init__.py" else anchor[:-1]
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            for alias in node.names:
                text = f"from {'.' * node.level}{node.module or ''} import {alias.name}"
                # `from a import b` imports a, and a.b if b is a module.
                reached = [base, f"{base}.{alias.name}"]
                if base == "singer_sdk" and alias.name in SDK_STREAM_NAMES:
                    reached.append("singer_sdk.streams")
                yield reached, text


def forbidden(name: str) -> str | None:
    for banned in FORBIDDEN:
        if name == banned or name.startswith(banned + "."):
            return banned
    return None


def layout_violations(starts: list[Path], package: Path) -> tuple[list[str], set[str]]:
    """Forbidden imports reachable from ``starts`` through the package's own modules,
    each with the chain of modules that leads to it; and every module visited."""
    chains = {module_name(path, package): [module_name(path, package)] for path in starts}
    queue = list(starts)
    problems = []
    while queue:
        path = queue.pop(0)
        here = module_name(path, package)
        for reached, text in imports(path, package):
            for name in reached:
                banned = forbidden(name)
                if banned:
                    chain = " -> ".join(chains[here])
                    problems.append(f"{chain}: `{text}` reaches {banned}")
                    break
            for name in reached:
                parts = name.split(".")
                # Importing a.b.c runs a/__init__.py and a/b/__init__.py too.
                for depth in range(1, len(parts) + 1):
                    module = ".".join(parts[:depth])
                    if forbidden(module):
                        break  # reported above: its own imports would only repeat it
                    found = module_path(module, package)
                    if found is not None and module not in chains:
                        chains[module] = [*chains[here], module]
                        queue.append(found)
    return sorted(set(problems)), set(chains)


def engine_modules(package: Path) -> list[Path]:
    return sorted(path for part in ENGINE for path in (package / part).rglob("*.py"))


def test_the_engine_never_reaches_the_stream_classes() -> None:
    starts = engine_modules(PACKAGE)
    problems, visited = layout_violations(starts, PACKAGE)
    assert not problems, "\n".join(problems)
    # The walk saw every engine module and followed their imports beyond them.
    assert {module_name(path, PACKAGE) for path in starts} < visited
    assert {"tap_klaviyo.settings", "tap_klaviyo.errors", "tap_klaviyo.dates"} <= visited


def private_uses(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in SDK_PRIVATE:
            yield f"line {node.lineno}: .{node.attr}"
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if node.name in SDK_PRIVATE:
                yield f"line {node.lineno}: def {node.name}"
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "hasattr", "delattr")
            and len(node.args) > 1
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value in SDK_PRIVATE
        ):
            yield f"line {node.lineno}: {node.func.id}(..., {node.args[1].value!r})"


def test_only_sdk_py_uses_singer_sdk_private_members() -> None:
    sdk = PACKAGE / "sdk.py"
    assert list(private_uses(sdk)), "sdk.py uses none: the list above is out of date"
    found = [
        f"{path.relative_to(ROOT)} {use}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != sdk
        for use in private_uses(path)
    ]
    assert not found, "\n".join(found)


def sized(package: Path) -> Iterator[Path]:
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        if relative.parts[0] in ("schemas", "spec"):
            continue
        yield path


def class_sizes(path: Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            assert node.end_lineno is not None
            yield node.end_lineno - first + 1, f"{path.relative_to(ROOT)}: class {node.name}"


def test_no_class_is_longer_than_300_lines() -> None:
    sizes = [size for path in sized(PACKAGE) for size in class_sizes(path)]
    biggest = max(sizes)
    assert biggest[0] <= MAX_CLASS_LINES, f"{biggest[1]} has {biggest[0]} lines"


def test_no_module_is_longer_than_450_lines() -> None:
    sizes = [
        (len(path.read_text(encoding="utf-8").splitlines()), str(path.relative_to(ROOT)))
        for path in sized(PACKAGE)
    ]
    biggest = max(sizes)
    assert biggest[0] <= MAX_MODULE_LINES, f"{biggest[1]} has {biggest[0]} lines"


# ---- the checks themselves find what they look for ----------------------------------------


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_the_walk_finds_a_forbidden_import_behind_others(tmp_path: Path) -> None:
    package = tmp_path / "tap_klaviyo"
    write(
        package,
        {
            "__init__.py": "",
            "client.py": "",
            "helpers.py": "def helper() -> None:\n    from .client import Thing\n",
            "read/__init__.py": "",
            "read/a.py": "from tap_klaviyo.util import b\n",
            "util/__init__.py": "",
            "util/b.py": "from .. import helpers\n",
            "write/__init__.py": "",
            "write/c.py": "from singer_sdk import RESTStream\n",
            "transport/__init__.py": "",
            "transport/d.py": "import tap_klaviyo.streams.events\n",
        },
    )
    problems, _ = layout_violations(engine_modules(package), package)
    assert problems == [
        "tap_klaviyo.read.a -> tap_klaviyo.util.b -> tap_klaviyo.helpers: "
        "`from .client import Thing` reaches tap_klaviyo.client",
        "tap_klaviyo.transport.d: `import tap_klaviyo.streams.events` reaches tap_klaviyo.streams",
        "tap_klaviyo.write.c: `from singer_sdk import RESTStream` reaches singer_sdk.streams",
    ]


def test_private_members_are_found_however_they_are_used(tmp_path: Path) -> None:
    module = tmp_path / "stream.py"
    module.write_text(
        "class S:\n"
        "    def _sync_records(self):\n"
        "        return self._tap.state\n"
        "    def run(self, tap):\n"
        "        getattr(tap, '_state_writer').write_state({})\n"
        "        self._own_thing = 1\n",
        encoding="utf-8",
    )
    assert list(private_uses(module)) == [
        "line 2: def _sync_records",
        "line 3: ._tap",
        "line 5: getattr(..., '_state_writer')",
    ]
