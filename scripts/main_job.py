"""The main job behind ``scripts/run``: Klaviyo -> Meltano -> PostgreSQL, then a row count.

* Source: the real Klaviyo account when an API key is configured (TAP_KLAVIYO_API_KEY,
  .env or meltano.yml); otherwise the project's Klaviyo simulator, started here on
  127.0.0.1 with seeded data, in the Meltano environment ``simulator`` (own schema
  ``tap_klaviyo_simulator``, own state).
* Destination: the PostgreSQL server configured for target-postgres
  (TARGET_POSTGRES_SQLALCHEMY_URL, or TARGET_POSTGRES_HOST/_PORT/_USER/_PASSWORD/_DATABASE,
  or the same settings in .env / meltano.yml); otherwise an embedded PostgreSQL whose data
  directory is ``.meltano/embedded-postgres/data`` (kept between runs).
* Runs ``meltano run tap-klaviyo target-postgres`` (extra arguments are passed on, e.g.
  ``--full-refresh``), then prints every table of the target schema with its row count.
* Then builds the dbt models in transform/ (``meltano run dbt-postgres:run``) in the same
  database and prints the top of one mart: revenue by campaign.

Run it through ``scripts/run``, which prepares the venv and the Meltano plugins first.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from embedded_pg import DEFAULT_DIR, EmbeddedPostgres  # noqa: E402

EXTRACTOR = "tap-klaviyo"
LOADER = "target-postgres"
TRANSFORMER = "dbt-postgres"
SIM_ENVIRONMENT = "simulator"


def say(message: str) -> None:
    print(f"[scripts/run] {message}", flush=True)


def meltano_bin() -> str:
    local = Path(sys.executable).parent / "meltano"
    return str(local) if local.exists() else (shutil.which("meltano") or "meltano")


def meltano_config(plugin: str, environment: str, env: dict[str, str], extras: bool = False):
    """The plugin's resolved configuration (meltano.yml + .env + environment variables)."""
    cmd = [
        meltano_bin(),
        "--log-level=error",
        "--environment",
        environment,
        "config",
        "--unsafe",
        "print",
        plugin,
    ]
    if extras:
        cmd.append("--extras")
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if result.returncode != 0:
        raise SystemExit(f"`{' '.join(cmd[1:])}` failed:\n{result.stderr}{result.stdout}")
    return json.loads(result.stdout[result.stdout.index("{") :])


def libpq_dsn(config: dict[str, Any]) -> str | dict[str, Any]:
    """A psycopg connection target for target-postgres' resolved config."""
    url = config.get("sqlalchemy_url")
    if url:
        scheme, rest = url.split("://", 1)
        return "postgresql://" + rest if scheme.startswith("postgres") else url
    params = {
        "host": config.get("host"),
        "port": config.get("port", 5432),
        "user": config.get("user"),
        "password": config.get("password") or None,
        "dbname": config.get("database") or config.get("user"),
    }
    if config.get("ssl_enable"):
        params["sslmode"] = config.get("ssl_mode", "verify-full")
    return {k: v for k, v in params.items() if v is not None}


def table_counts(dsn: str | dict[str, Any], schema: str) -> list[tuple[str, int, int | None]]:
    """(table, rows, soft-deleted rows or None) for every table of ``schema``."""
    import psycopg
    from psycopg import sql

    connect = psycopg.connect(dsn) if isinstance(dsn, str) else psycopg.connect(**dsn)
    out = []
    with connect as conn, conn.cursor() as cur:
        cur.execute(
            "select table_name from information_schema.tables "
            "where table_schema = %s and table_type = 'BASE TABLE' order by table_name",
            (schema,),
        )
        tables = [row[0] for row in cur.fetchall()]
        for table in tables:
            ident = sql.Identifier(schema, table)
            cur.execute(
                "select 1 from information_schema.columns where table_schema = %s "
                "and table_name = %s and column_name = '_sdc_deleted_at'",
                (schema, table),
            )
            if cur.fetchone():
                cur.execute(
                    sql.SQL("select count(*), count(_sdc_deleted_at) from {}").format(ident)
                )
                rows, deleted = cur.fetchone()
            else:
                cur.execute(sql.SQL("select count(*) from {}").format(ident))
                rows, deleted = cur.fetchone()[0], None
            out.append((table, rows, deleted))
    return out


def print_counts(counts: list[tuple[str, int, int | None]], schema: str) -> None:
    if not counts:
        say(f"No tables in schema {schema!r}.")
        return
    width = max(len(t) for t, _, _ in counts)
    print(f"\nTables in schema {schema}:")
    print(f"  {'table'.ljust(width)}  {'rows':>9}  soft-deleted")
    for table, rows, deleted in counts:
        gone = "" if deleted is None else f"{deleted:>12}"
        print(f"  {table.ljust(width)}  {rows:>9}  {gone}")
    print(f"  {'total'.ljust(width)}  {sum(r for _, r, _ in counts):>9}\n", flush=True)


def dbt_env(
    dbt_config: dict[str, Any], loader_config: dict[str, Any], schema: str
) -> dict[str, str]:
    """What dbt-postgres needs beyond its own configuration to build on what was loaded.

    meltano.yml hands target-postgres' TARGET_POSTGRES_HOST/... on to dbt, but not a
    sqlalchemy_url, and not settings given in meltano.yml: without a host of its own, dbt
    gets the loader's connection. Its klaviyo_schemas must hold the schema just loaded.
    """
    from psycopg.conninfo import conninfo_to_dict

    env: dict[str, str] = {}
    if not dbt_config.get("host"):
        dsn = libpq_dsn(loader_config)
        params = conninfo_to_dict(dsn) if isinstance(dsn, str) else dsn
        for name in ("host", "port", "user", "password", "dbname"):
            if params.get(name) not in (None, ""):
                env[f"DBT_POSTGRES_{name.upper()}"] = str(params[name])
        if params.get("sslmode"):
            say("dbt-postgres: set DBT_POSTGRES_* for TLS yourself (sslmode is not handed on).")
    schemas = dbt_config.get("klaviyo_schemas") or []
    if isinstance(schemas, str):
        schemas = json.loads(schemas) if schemas.strip().startswith("[") else schemas.split(",")
    schemas = [s.strip() for s in schemas]
    if schema not in schemas:
        say(f"dbt-postgres: klaviyo_schemas {schemas} lacks {schema!r}; building on {schema!r}.")
        env["DBT_POSTGRES_KLAVIYO_SCHEMAS"] = json.dumps([schema])
    return env


def campaign_revenue(dsn: str | dict[str, Any], schema: str, limit: int = 10) -> list[tuple]:
    """(campaign, revenue, conversions) of the campaigns that earned most."""
    import psycopg
    from psycopg import sql

    connect = psycopg.connect(dsn) if isinstance(dsn, str) else psycopg.connect(**dsn)
    with connect as conn, conn.cursor() as cur:
        cur.execute(
            sql.SQL(
                "select campaign_name, revenue, conversions from {} "
                "where revenue > 0 or conversions > 0 "
                "order by revenue desc, conversions desc, campaign_name limit %s"
            ).format(sql.Identifier(schema, "dim_campaigns")),
            (limit,),
        )
        return cur.fetchall()


def print_campaign_revenue(found: list[tuple], schema: str) -> None:
    print(f"Revenue by campaign ({schema}.dim_campaigns, attributed conversions):")
    if not found:
        print("  no campaign has an attributed conversion yet\n", flush=True)
        return
    width = max(len(str(name)) for name, _, _ in found)
    print(f"  {'campaign'.ljust(width)}  {'revenue':>12}  conversions")
    for name, revenue, conversions in found:
        print(f"  {str(name).ljust(width)}  {revenue:>12,.2f}  {int(conversions):>11}")
    print(flush=True)


def build_models(
    environment: str, env: dict[str, str], loader_config: dict[str, Any], schema: str
) -> int:
    """`meltano run dbt-postgres:run`, then the top of the revenue-by-campaign mart."""
    dbt_config = meltano_config(TRANSFORMER, environment, env)
    env = {**env, **dbt_env(dbt_config, loader_config, schema)}
    cmd = [meltano_bin(), "--environment", environment, "run", f"{TRANSFORMER}:run"]
    say("$ " + " ".join(cmd[1:]))
    code = subprocess.call(cmd, env=env, cwd=ROOT)
    if code != 0:
        say(f"dbt failed (exit {code}); the marts are as the last good run left them.")
        return code
    marts = dbt_config.get("schema") or "analytics"
    try:
        print_campaign_revenue(campaign_revenue(libpq_dsn(loader_config), marts), marts)
    except Exception as exc:  # the report must not hide the run's own result
        say(f"Could not read {marts}.dim_campaigns: {exc}")
        return 1
    return 0


def main(argv: list[str]) -> int:
    env = dict(os.environ)
    env.setdefault("MELTANO_SEND_ANONYMOUS_USAGE_STATS", "false")
    env.setdefault("MELTANO_CLI_DISABLE_VERSION_CHECK", "true")
    environment = env.get("MELTANO_ENVIRONMENT") or "dev"

    stopping_embedded = False
    with ExitStack() as stack:
        # -- Klaviyo: the real account, or the simulator --------------------------------
        tap_config = meltano_config(EXTRACTOR, environment, env)
        if tap_config.get("api_key"):
            say(
                f"Reading the Klaviyo account of the configured API key "
                f"(Meltano environment {environment!r})."
            )
        else:
            from klaviyo_sim import KlaviyoSimulator

            sim = KlaviyoSimulator(seed=int(env.get("KLAVIYO_SIM_SEED", "0")))
            sim.start()
            stack.callback(sim.stop)
            environment = SIM_ENVIRONMENT
            env.update(
                TAP_KLAVIYO_API_URL=sim.url,
                TAP_KLAVIYO_API_KEY=sim.api_key,
                MELTANO_ENVIRONMENT=environment,
            )
            say(
                "No TAP_KLAVIYO_API_KEY set: reading the project's Klaviyo SIMULATOR at "
                f"{sim.url} (seeded test data, Meltano environment {environment!r}). "
                "Set TAP_KLAVIYO_API_KEY=pk_... to read your real account."
            )

        # -- PostgreSQL: the configured server, or the embedded one ---------------------
        loader_config = meltano_config(LOADER, environment, env)
        if loader_config.get("sqlalchemy_url") or loader_config.get("host"):
            where = loader_config.get("host") or "the configured sqlalchemy_url"
            say(f"Loading into your PostgreSQL server ({where}).")
        else:
            pg = EmbeddedPostgres(env.get("EMBEDDED_PG_DIR") or DEFAULT_DIR).start()
            if pg.started_here:
                stack.callback(pg.stop)
                stopping_embedded = True
            env.update(pg.target_postgres_env())
            loader_config["sqlalchemy_url"] = pg.sqlalchemy_url
            say(
                f"No TARGET_POSTGRES_SQLALCHEMY_URL / TARGET_POSTGRES_HOST: loading into the "
                f"embedded PostgreSQL at {pg.sqlalchemy_url} (data in {pg.data_dir})."
            )

        schema = loader_config.get("default_target_schema") or ""
        if not schema or schema.startswith("$"):
            extras = meltano_config(EXTRACTOR, environment, env, extras=True)
            schema = extras.get("_load_schema") or "tap_klaviyo"

        # -- the pipeline ------------------------------------------------------------------
        cmd = [meltano_bin(), "--environment", environment, "run", EXTRACTOR, LOADER, *argv]
        say("$ " + " ".join(cmd[1:]))
        code = subprocess.call(cmd, env=env, cwd=ROOT)
        if code != 0:
            say(f"meltano run failed (exit {code}); tables as they are now:")

        try:
            print_counts(table_counts(libpq_dsn(loader_config), schema), schema)
        except Exception as exc:  # the report must not hide the run's own result
            say(f"Could not read the tables of schema {schema!r}: {exc}")
            code = code or 1

        # -- the models ----------------------------------------------------------------
        if code == 0:
            code = build_models(environment, env, loader_config, schema)
        else:
            say("The dbt models are not built after a failed load.")
        if stopping_embedded:
            say(
                "The embedded server stops now; its data stays. To query it later: "
                "`.venv/bin/python scripts/embedded_pg.py start` then "
                "`.venv/bin/python scripts/embedded_pg.py psql`."
            )
        return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
