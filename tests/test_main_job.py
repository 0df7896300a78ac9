"""scripts/main_job.py: what dbt-postgres is told so it builds where target-postgres loaded."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from tests.conftest import ROOT

pytest.importorskip("psycopg")
sys.path.insert(0, str(ROOT / "scripts"))

import main_job

LOADED = "tap_klaviyo"


def dbt_config(**settings: Any) -> dict[str, Any]:
    return {"host": "", "schema": "analytics", "klaviyo_schemas": [LOADED], **settings}


def test_a_loader_url_becomes_dbt_connection_settings() -> None:
    loader = {"sqlalchemy_url": "postgresql+psycopg://loader:s3cret@db.internal:6543/warehouse"}
    assert main_job.dbt_env(dbt_config(), loader, LOADED) == {
        "DBT_POSTGRES_HOST": "db.internal",
        "DBT_POSTGRES_PORT": "6543",
        "DBT_POSTGRES_USER": "loader",
        "DBT_POSTGRES_PASSWORD": "s3cret",
        "DBT_POSTGRES_DBNAME": "warehouse",
    }


def test_separate_loader_settings_become_dbt_connection_settings() -> None:
    loader = {"host": "db.internal", "port": 5433, "user": "loader", "database": "warehouse"}
    assert main_job.dbt_env(dbt_config(), loader, LOADED) == {
        "DBT_POSTGRES_HOST": "db.internal",
        "DBT_POSTGRES_PORT": "5433",
        "DBT_POSTGRES_USER": "loader",
        "DBT_POSTGRES_DBNAME": "warehouse",
    }


def test_dbt_with_a_host_of_its_own_keeps_it() -> None:
    loader = {"sqlalchemy_url": "postgresql+psycopg://loader@db.internal:5432/warehouse"}
    assert main_job.dbt_env(dbt_config(host="dbt.internal"), loader, LOADED) == {}


@pytest.mark.parametrize("configured", [["tap_klaviyo_simulator"], "elsewhere, other", []])
def test_dbt_reads_the_schema_just_loaded(configured: Any) -> None:
    loader = {"host": "db.internal"}
    env = main_job.dbt_env(dbt_config(host="h", klaviyo_schemas=configured), loader, LOADED)
    assert json.loads(env["DBT_POSTGRES_KLAVIYO_SCHEMAS"]) == [LOADED]


def test_dbt_keeps_its_schemas_when_they_include_the_one_loaded() -> None:
    config = dbt_config(host="h", klaviyo_schemas=["tap_klaviyo_brand_a", LOADED])
    assert main_job.dbt_env(config, {"host": "db.internal"}, LOADED) == {}
