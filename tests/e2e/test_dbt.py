"""The dbt project in transform/, run by Meltano on what tap-klaviyo loaded from the simulator.

One account: `meltano run tap-klaviyo target-postgres dbt-postgres:run dbt-postgres:test`
with the default selection, and the marts checked against sums computed from the
simulator's own data (tests/e2e/expected_marts.py). Two accounts: two inheriting extractors
(meltano.yml's tap-klaviyo--brand_a and --brand_b) load two simulators into two schemas,
one of them with campaign and flow reports as well, and the staging models union them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from tests.e2e.conftest import ROOT, sim_env, tables
from tests.e2e.expected_marts import SimFacts

pytestmark = pytest.mark.e2e

MODELS = ROOT / "transform" / "models"
MARTS = sorted(p.stem for p in (MODELS / "marts").glob("*.sql"))
STAGING = sorted(p.stem for p in (MODELS / "staging").glob("*.sql"))
# Streams the marts read, for the two-account loads (every stream would only cost time).
MART_STREAMS = [
    "accounts",
    "metrics",
    "events",
    "profiles",
    "campaigns",
    "campaign_messages",
    "flows",
    "flow_actions",
    "flow_messages",
    "lists",
    "list_members",
]


@dataclass(frozen=True)
class Built:
    """Where a test's loads and models are."""

    loaded: tuple[str, ...]  # the schemas the extractors loaded into
    marts: str  # the dbt schema (staging models are in <marts>_staging)
    log: str  # what Meltano and dbt printed


def dbt_env(loaded: list[str], marts: str) -> dict[str, str]:
    """The dbt-postgres settings of a test, as environment variables (as Meltano reads them)."""
    return {"DBT_POSTGRES_KLAVIYO_SCHEMAS": json.dumps(loaded), "DBT_POSTGRES_SCHEMA": marts}


@pytest.fixture(scope="module")
def conn(postgres: Any) -> Iterator[Any]:
    import psycopg

    with psycopg.connect(postgres.dsn, autocommit=True) as connection:
        yield connection


def rows(conn: Any, query: str, *params: Any) -> list[tuple[Any, ...]]:
    return conn.execute(query, params).fetchall()


def dbt_summaries(log: str) -> list[dict[str, int]]:
    """dbt's closing line of each command: `Done. PASS=.. WARN=.. ERROR=.. SKIP=..`."""
    found = re.findall(r"Done\. PASS=(\d+) WARN=(\d+) ERROR=(\d+) SKIP=(\d+)", log)
    return [dict(zip(("pass", "warn", "error", "skip"), map(int, m), strict=True)) for m in found]


def utc(moment: datetime | None) -> datetime | None:
    """An aware date-time as the loaded tables hold it: UTC without a zone."""
    return None if moment is None else moment.astimezone(timezone.utc).replace(tzinfo=None)


def performance(conn: Any, mart: str, keys: str, account: str, source: str = "events") -> dict:
    """A performance mart's measures by key, for one account and source."""
    found = rows(
        conn,
        f"select {keys}, date, delivered, opens, clicks, conversions, revenue from {mart} "
        "where account_id = %s and source = %s",
        account,
        source,
    )
    width = len(keys.split(","))
    return {
        tuple(r[: width + 1]): (int(r[-5]), int(r[-4]), int(r[-3]), int(r[-2]), Decimal(r[-1]))
        for r in found
    }


# -- one account, the whole pipeline ----------------------------------------------------------


@pytest.fixture(scope="module")
def single(meltano: Any, session_sim: Any) -> Built:
    """The default selection loaded and the models built and tested, in one `meltano run`."""
    loaded, marts = "e2e_dbt_single", "e2e_dbt_single_marts"
    result = meltano(
        "run",
        f"--state-id-suffix={loaded}",
        "tap-klaviyo",
        "target-postgres",
        "dbt-postgres:run",
        "dbt-postgres:test",
        env={**sim_env(session_sim, loaded), **dbt_env([loaded], marts)},
    )
    return Built((loaded,), marts, result.stdout + result.stderr)


@pytest.fixture(scope="module")
def facts(session_sim: Any) -> SimFacts:
    return SimFacts(session_sim.data)


def test_one_meltano_run_loads_builds_and_tests_every_model(single: Built, conn: Any) -> None:
    run, test = dbt_summaries(single.log)
    assert run == {"pass": len(MARTS) + len(STAGING), "warn": 0, "error": 0, "skip": 0}
    assert test["pass"] > 0 and test["error"] == test["warn"] == test["skip"] == 0
    assert sorted(tables(conn, single.marts)) == MARTS
    assert sorted(tables(conn, f"{single.marts}_staging")) == STAGING


def test_tables_of_unselected_streams_read_as_empty(single: Built, conn: Any) -> None:
    """Opt-in streams have no table; their staging models are built anyway, empty."""
    (loaded,) = single.loaded
    raw = set(tables(conn, loaded))
    assert "events" in raw
    for stream in ("list_sizes", "campaign_values_reports", "flow_values_reports"):
        assert stream not in raw
        (count,) = rows(conn, f"select count(*) from {single.marts}_staging.stg_klaviyo__{stream}")
        assert count == (0,)


def test_without_account_id_the_schema_names_the_account(single: Built, conn: Any) -> None:
    (loaded,) = single.loaded
    for mart in MARTS:
        accounts = rows(conn, f"select distinct account_id from {single.marts}.{mart}")
        assert accounts in ([(loaded,)], []), mart
    assert rows(conn, f"select distinct account_id from {single.marts}.fct_events") == [(loaded,)]


def test_campaign_performance_matches_the_simulator(
    single: Built, conn: Any, facts: SimFacts
) -> None:
    (loaded,) = single.loaded
    expected, _ = facts.message_days()
    assert any(p.revenue for p in expected.values()), "the seed has no attributed campaign order"
    mart = f"{single.marts}.fct_campaign_message_daily"
    got = performance(conn, mart, "campaign_id", loaded)
    assert got == {key: p.row() for key, p in expected.items()}

    totals = dict(
        rows(
            conn, f"select campaign_id, revenue from {single.marts}.dim_campaigns where revenue > 0"
        )
    )
    by_campaign: dict[str, Decimal] = {}
    for (campaign_id, _day), p in expected.items():
        by_campaign[campaign_id] = by_campaign.get(campaign_id, Decimal(0)) + p.revenue
    assert totals == {k: v for k, v in by_campaign.items() if v}


def test_flow_performance_matches_the_simulator(single: Built, conn: Any, facts: SimFacts) -> None:
    (loaded,) = single.loaded
    _, expected = facts.message_days()
    assert any(p.revenue for p in expected.values()), "the seed has no attributed flow order"
    mart = f"{single.marts}.fct_flow_message_daily"
    got = performance(conn, mart, "flow_id, flow_message_id", loaded)
    assert got == {key: p.row() for key, p in expected.items()}


def test_profile_facts_match_the_simulator(single: Built, conn: Any, facts: SimFacts) -> None:
    found = {
        r[0]: r[1:]
        for r in rows(
            conn,
            "select profile_id, order_count, revenue, first_order_at, last_order_at, "
            f"is_email_suppressed, email_suppression_reasons from {single.marts}.dim_profiles",
        )
    }
    orders = facts.orders()
    reasons = facts.suppression_reasons()
    assert set(found) == set(orders)
    assert any(o.count > 1 for o in orders.values()) and any(reasons.values())
    for profile_id, o in orders.items():
        count, revenue, first, last, suppressed, listed = found[profile_id]
        assert (count, revenue, first, last) == (o.count, o.revenue, utc(o.first), utc(o.last))
        assert suppressed == bool(reasons[profile_id]), profile_id
        assert set(listed.split(", ") if listed else ()) == reasons[profile_id], profile_id


def test_list_growth_matches_the_simulator(single: Built, conn: Any, facts: SimFacts) -> None:
    growth = rows(
        conn,
        "select list_id, date, members_joined, members_cumulative, profile_count_source "
        f"from {single.marts}.fct_list_growth_daily order by list_id, date",
    )
    assert {(r[0], r[1]): r[2] for r in growth} == facts.list_joins()
    last: dict[str, int] = {r[0]: r[3] for r in growth}
    assert last == {list_id: len(m) for list_id, m in facts.lists.items() if m}
    assert {r[4] for r in growth} == {"members"}  # list_sizes is not selected by default


# -- two accounts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    extractor: str  # its Meltano name in meltano.yml
    account_id: str  # its account_id setting in meltano.yml
    schema: str
    sim: Any

    def env(self, streams: list[str], **settings: str) -> dict[str, str]:
        """This extractor's own variables (TAP_KLAVIYO__BRAND_A_...), as a user sets them:
        its simulator, ``streams`` selected, ``settings``; and the schema to load into."""
        prefix = self.extractor.upper().replace("-", "_")
        env = {f"{prefix}_{name.upper()}": value for name, value in settings.items()}
        return {
            f"{prefix}_API_URL": self.sim.url,
            f"{prefix}_API_KEY": self.sim.api_key,
            f"{prefix}__SELECT": json.dumps([f"{stream}.*" for stream in streams]),
            "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": self.schema,
            **env,
        }


def report_month(facts: SimFacts, data: Any) -> tuple[date, date]:
    """The month of the latest campaign send an order is credited to: reports of that month
    cover one campaign with conversions (and leave the others to events), in one request
    per report endpoint (2 a minute)."""
    campaigns = {c["id"]: c["attributes"] for c in data.get("campaign")}
    sends = [
        datetime.fromisoformat(campaigns[message[1]]["send_time"]).astimezone(facts.zone).date()
        for order in facts.conversions()
        if (message := facts.credited(order)) and message[0] == "campaign"
    ]
    first = max(sends).replace(day=1)
    after = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, after


@pytest.fixture(scope="module")
def accounts(meltano: Any) -> Iterator[tuple[Built, Account, Account, tuple[date, date]]]:
    """brand_a (seed 0, with a month of campaign and flow reports) and brand_b (seed 1),
    each loaded by its own extractor into its own schema; one dbt build over both."""
    from klaviyo_sim import KlaviyoSimulator

    with (
        KlaviyoSimulator(seed=0) as sim_a,
        KlaviyoSimulator(seed=1) as sim_b,
    ):
        a = Account("tap-klaviyo--brand_a", "brand_a", "e2e_dbt_brand_a", sim_a)
        b = Account("tap-klaviyo--brand_b", "brand_b", "e2e_dbt_brand_b", sim_b)
        for account in (a, b):
            meltano(
                "run",
                f"--state-id-suffix={account.schema}",
                account.extractor,
                "target-postgres",
                env=account.env(MART_STREAMS),
            )
        facts_a = SimFacts(sim_a.data)
        first, after = report_month(facts_a, sim_a.data)
        # Midnight of the account's day: the tap's last report day is the one before it.
        end = datetime.combine(after, time(), tzinfo=facts_a.zone)
        meltano(
            "run",
            f"--state-id-suffix={a.schema}-reports",
            a.extractor,
            "target-postgres",
            env=a.env(
                ["campaign_values_reports", "flow_values_reports"],
                reporting_start_date=first.isoformat(),
                reporting_values_period="month",
                end_date=end.isoformat(),
            ),
        )
        marts = "e2e_dbt_accounts_marts"
        result = meltano(
            "invoke", "dbt-postgres", "build", env=dbt_env([a.schema, b.schema], marts)
        )
        yield (
            Built((a.schema, b.schema), marts, result.stdout + result.stderr),
            a,
            b,
            (first, after),
        )


def test_two_accounts_are_unioned_under_their_account_ids(accounts: Any, conn: Any) -> None:
    built, a, b = accounts[:3]
    (build,) = dbt_summaries(built.log)
    assert build["pass"] > len(MARTS) + len(STAGING) and build["error"] == build["skip"] == 0
    stg = f"{built.marts}_staging"
    for stream, resource in (("events", "event"), ("profiles", "profile"), ("lists", "list")):
        counts = dict(
            rows(conn, f"select account_id, count(*) from {stg}.stg_klaviyo__{stream} group by 1")
        )
        assert counts == {
            a.account_id: a.sim.data.count(resource),
            b.account_id: b.sim.data.count(resource),
        }
    counts = dict(
        rows(conn, f"select account_id, count(*) from {built.marts}.fct_events group by 1")
    )
    assert counts == {
        a.account_id: a.sim.data.count("event"),
        b.account_id: b.sim.data.count("event"),
    }
    # The same Klaviyo id in both accounts stays two rows, told apart by account_id.
    klaviyo_ids = rows(
        conn, f"select account_id, klaviyo_account_id from {stg}.stg_klaviyo__accounts order by 1"
    )
    assert [r[0] for r in klaviyo_ids] == [a.account_id, b.account_id]
    for mart, key in (("fct_events", "event_id"), ("dim_profiles", "profile_id")):
        duplicates = rows(
            conn,
            f"select account_id, {key} from {built.marts}.{mart} group by 1, 2 having count(*) > 1",
        )
        assert duplicates == [], mart


def test_each_account_keeps_its_own_numbers(accounts: Any, conn: Any) -> None:
    """brand_b's campaigns and flows all come from its events; brand_a's campaign sent in the
    reported month comes from the report, its other campaigns from events, and its flows
    from the report on the reported days and from events on the others."""
    built, a, b, (first, after) = accounts
    campaigns = f"{built.marts}.fct_campaign_message_daily"
    flows = f"{built.marts}.fct_flow_message_daily"

    expected_b = SimFacts(b.sim.data).message_days()
    assert performance(conn, campaigns, "campaign_id", b.account_id) == {
        k: p.row() for k, p in expected_b[0].items()
    }
    assert performance(conn, flows, "flow_id, flow_message_id", b.account_id) == {
        k: p.row() for k, p in expected_b[1].items()
    }
    assert rows(
        conn, f"select distinct source from {campaigns} where account_id = %s", b.account_id
    ) == [("events",)]

    raw = f"{a.schema}.campaign_values_reports"
    reported = dict(rows(conn, f"select campaign_id, sum(conversion_value) from {raw} group by 1"))
    assert any(reported.values()), "the reported month has no campaign revenue"
    from_reports = dict(
        rows(
            conn,
            f"select campaign_id, sum(revenue) from {campaigns} "
            "where account_id = %s and source = 'report' group by 1",
            a.account_id,
        )
    )
    assert from_reports == reported
    expected_a = SimFacts(a.sim.data).message_days()
    assert performance(conn, campaigns, "campaign_id", a.account_id) == {
        k: p.row() for k, p in expected_a[0].items() if k[0] not in reported
    }

    (days,) = rows(conn, f"select min(date), max(through_date) from {a.schema}.flow_values_reports")
    assert days == (first, after - timedelta(days=1))
    assert performance(conn, flows, "flow_id, flow_message_id", a.account_id) == {
        k: p.row() for k, p in expected_a[1].items() if not first <= k[2] < after
    }
    reported_flows = rows(
        conn,
        "select flow_message_id, sum(conversion_value) "
        f"from {a.schema}.flow_values_reports group by 1",
    )
    assert sorted(reported_flows) == sorted(
        rows(
            conn,
            f"select flow_message_id, sum(revenue) from {flows} "
            "where account_id = %s and source = 'report' group by 1",
            a.account_id,
        )
    )
