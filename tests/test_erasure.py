"""Right to be forgotten across every layer (scenario: tests/privacy_scenario.py).

Two opted-in customers are erased by a landing `erasure_requests` file: one by customer
number only (the identity graph adds their e-mails, shop account, loyalty card), one by an old
e-mail only. After the next run nothing of them is left in the build database (staging,
identity graph, registry, marts, every past snapshot), the published Parquet versions, the
exports and the reports — while revenue and the published aggregates still add up. A run
without the request file shows the suppression persisting.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import duckdb
import pytest
from conftest import ErasureScenario, query, warehouse_env

from dagster_project.lib.privacy.customer_match import hashed_email, hashed_phone
from dagster_project.lib.publication import published_versions

NOVEMBER = date(2025, 11, 1)


def _needles(scenario: ErasureScenario) -> set[str]:
    """Every identifier of the erased persons, as it could appear in a value."""
    values: set[str] = set()
    for kinds in scenario.persons.values():
        for kind, found in kinds.items():
            if kind != "order_id":  # their orders stay, anonymous
                values |= set(found)
    return {v for v in values if v}


def _scan(con: duckdb.DuckDBPyConnection, relations: list[str], needles: set[str]) -> list[str]:
    """`relation.column: needle` for every varchar value that contains an identifier."""
    con.execute("create or replace temp table _needles (needle varchar)")
    con.executemany("insert into _needles values (?)", [(n,) for n in sorted(needles)])
    hits = []
    for relation in relations:
        columns = con.execute(f"describe select * from {relation}").fetchall()
        for name, dtype, *_ in columns:
            if dtype != "VARCHAR":
                continue
            found = con.execute(
                f"select distinct needle from {relation} as t, _needles "
                f'where contains(t."{name}", needle)'
            ).fetchall()
            hits += [f"{relation}.{name}: {needle}" for (needle,) in found]
    return hits


def _build_db_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        f'"{schema}"."{table}"'
        for schema, table in con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' order by 1, 2"
        ).fetchall()
    ]


def _assert_build_db_clean(scenario: ErasureScenario) -> None:
    con = duckdb.connect(str(scenario.settings.build_db_path), read_only=True)
    try:
        tables = _build_db_tables(con)
        assert any("int_identity__customer_id_registry" in t for t in tables)
        assert any("stg_crm__customers" in t for t in tables)
        assert _scan(con, tables, _needles(scenario)) == []
    finally:
        con.close()


def test_the_persons_were_in_the_warehouse_and_the_exports_before(
    erasure_scenario: ErasureScenario,
) -> None:
    by_number = erasure_scenario.persons["by_number"]
    # the identity graph knows more than the request names: the point of the expansion
    assert len(by_number["email"]) >= 2 and by_number["account"] and by_number["card"]
    assert erasure_scenario.persons["by_email"]["crm"]
    assert erasure_scenario.before["exported"] == {"by_number": True, "by_email": True}
    assert erasure_scenario.second_run.returncode == 0, erasure_scenario.second_run.stderr[-2000:]


def test_no_table_of_the_build_database_holds_them(erasure_scenario: ErasureScenario) -> None:
    """Staging, identity graph, registry, marts, past snapshots: no value names them."""
    _assert_build_db_clean(erasure_scenario)


def test_past_snapshots_keep_anonymous_tombstones_so_aggregates_add_up(
    erasure_scenario: ErasureScenario,
) -> None:
    build_db, before = erasure_scenario.settings.build_db_path, erasure_scenario.before
    november = f"snapshot_month = '{NOVEMBER}'"
    assert (
        query(build_db, f"select count(*) from marts.customer_scores where {november}")[0][0]
        == (before["november_scores"])
    )
    tombstones = query(
        build_db,
        "select count(distinct customer_id) from marts.customer_segments "
        f"where {november} and customer_id like 'erased_%'",
    )[0][0]
    assert tombstones == 2
    assert (
        query(
            build_db,
            "select segment, count(*) from marts.customer_segments "
            f"where {november} group by all order by all",
        )
        == before["segment_counts"]
    )
    assert (
        query(
            build_db,
            "select dimension, segment, customers from marts.segment_sizes "
            f"where {november} order by all",
        )
        == before["november_sizes"]
    )
    # the tombstones belong to nobody: not in the customer dimension
    assert query(
        build_db, "select count(*) from marts.dim_customers where customer_id like 'erased_%'"
    ) == [(0,)]


def test_their_orders_stay_as_anonymous_orders(erasure_scenario: ErasureScenario) -> None:
    build_db = erasure_scenario.settings.build_db_path
    assert (
        query(build_db, "select sum(amount), count(*) from marts.fct_orders")[0]
        == (erasure_scenario.before["revenue"])
    )
    orders = sorted(erasure_scenario.persons["by_number"]["order_id"])
    assert orders
    con = duckdb.connect(str(build_db), read_only=True)
    try:
        owners = con.execute(
            "select distinct customer_id from marts.fct_orders "
            "where order_id in (select unnest(?))",
            [orders],
        ).fetchall()
    finally:
        con.close()
    assert owners == [(None,)]


def test_their_web_activity_stays_as_anonymous_activity(erasure_scenario: ErasureScenario) -> None:
    """The daily web counts keep adding up to every event; the person's rows lose their id."""
    build_db = erasure_scenario.settings.build_db_path
    assert erasure_scenario.before["their_web_events"] > 0
    assert (
        query(build_db, "select sum(events) from marts.fct_web_activity")[0][0]
        == erasure_scenario.before["web_events"]
        == query(build_db, "select count(*) from staging.stg_web__events")[0][0]
    )
    ids = sorted(set().union(*(k["customer_id"] for k in erasure_scenario.persons.values())))
    con = duckdb.connect(str(build_db), read_only=True)
    try:
        rows = con.execute(
            "select count(*) from marts.fct_web_activity where customer_id in (select unnest(?))",
            [ids],
        ).fetchall()
    finally:
        con.close()
    assert rows == [(0,)]


def test_the_published_warehouse_and_every_kept_version_are_clean(
    erasure_scenario: ErasureScenario,
) -> None:
    settings = erasure_scenario.settings
    versions = published_versions(settings.published_dir)
    # every version published before the erasure is gone; only the new one is left
    assert versions and not {v.version for v in versions} & set(
        erasure_scenario.before["published_versions"]
    )
    con = duckdb.connect()
    try:
        files = sorted(str(f) for v in versions for f in v.directory.rglob("*.parquet"))
        assert any(f.endswith("dim_customers.parquet") for f in files)
        relations = [f"read_parquet('{f}')" for f in files]
        assert _scan(con, relations, _needles(erasure_scenario)) == []
    finally:
        con.close()
    bi = duckdb.connect(str(settings.duckdb_path), read_only=True)
    try:
        log = bi.execute(
            "select erasure_request_hash, application, identity_keys, customers, staging_rows, "
            "identity_rows, registry_rows, mart_rows, snapshot_rows, export_rows "
            "from audit.erasure_log order by erased_at, erasure_request_hash"
        ).fetchall()
    finally:
        bi.close()
    first = [row for row in log if row[1] == "first"]
    assert len(first) == 2
    for row in first:
        assert len(row[0]) == 64  # a salted hash, not the customer number or e-mail
        assert row[2] >= 2 and row[3] >= 1
        assert min(row[4:9]) > 0  # staging, identity graph, registry, marts, snapshots
    assert sum(row[9] for row in first) > 0  # rows removed from the November exports


def _export_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_no_export_of_any_month_names_them(erasure_scenario: ErasureScenario) -> None:
    exports = erasure_scenario.settings.exports_dir
    assert {p.name for p in exports.iterdir()} >= {"2025-11", "2025-12"}
    ids: set[str] = set()
    emails: set[str] = set()
    phones: set[str] = set()
    for kinds in erasure_scenario.persons.values():
        ids |= kinds["customer_id"]
        emails |= {hashed_email(e) for e in kinds["email"]}
        phones |= {hashed_phone(p, None) for p in kinds["phone"]} - {""}
    assert emails and phones
    files = sorted(exports.glob("*/*.csv"))
    assert len(files) == 12
    for path in files:
        assert path.stat().st_mode & 0o777 == 0o600, path  # scrubbed files stay private
        for row in _export_rows(path):
            assert row.get("customer_id") not in ids, path
            assert row.get("Email") not in emails, path
            assert row.get("Phone") not in phones, path


def test_exports_hold_opted_in_customers_only(erasure_scenario: ErasureScenario) -> None:
    settings = erasure_scenario.settings
    december = settings.exports_dir / "2025-12"
    con = duckdb.connect(str(settings.build_db_path), read_only=True)
    try:
        consent = dict(
            con.execute("select customer_id, marketing_opt_in from marts.dim_customers").fetchall()
        )
        latest = con.execute(
            """
            select email_normalized, marketing_opt_in from staging.stg_crm__customers
            qualify row_number() over (partition by customer_no order by updated_at desc) = 1
            """
        ).fetchall()
    finally:
        con.close()
    crm = _export_rows(december / "crm.csv")
    assert crm and all(consent[row["customer_id"]] is True for row in crm)
    assert any(value is not True for value in consent.values())  # someone was left out
    opted_in = {hashed_email(email) for email, opt_in in latest if opt_in and email}
    for audience in ("high_value", "at_risk", "new_customers", "vip_lookalikes"):
        rows = _export_rows(december / f"{audience}.csv")
        assert all(row["Email"] in opted_in for row in rows if row["Email"]), audience
    header = (december / "high_value.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "Email,Phone,First Name,Last Name,Country,Zip"


def test_reports_name_nobody(erasure_scenario: ErasureScenario) -> None:
    reports = sorted(erasure_scenario.settings.reports_dir.rglob("*.html"))
    assert {p.parent.name for p in reports if p.name == "report.html"} == {"2025-11", "2025-12"}
    needles = _needles(erasure_scenario)
    for report in reports:
        text = report.read_text(encoding="utf-8")
        assert not [n for n in needles if n in text], report


def test_the_suppression_list_holds_hashes_only(erasure_scenario: ErasureScenario) -> None:
    privacy = erasure_scenario.settings.privacy_dir
    content = (privacy / "suppression_list.parquet").read_bytes()
    assert not [n for n in _needles(erasure_scenario) if n.encode() in content]
    assert (privacy / "salt").stat().st_mode & 0o077 == 0  # only the owner may read the salt


@pytest.fixture(scope="module")
def rerun_without_requests(erasure_scenario: ErasureScenario) -> ErasureScenario:
    """The request file disappears; the next unification loads the persons' raw rows again."""
    import dagster as dg

    from dagster_project.definitions import defs
    from dagster_project.defs.unification.dbt_models import unification_dbt_models
    from dagster_project.lib.asset_keys import ERASURE_LOG
    from dagster_project.lib.job_runner import JOB_NAME

    for request in (erasure_scenario.demo.landing_dir / "erasure_requests").glob("*"):
        request.unlink()
    with warehouse_env(erasure_scenario.demo.landing_dir, erasure_scenario.settings.duckdb_path):
        result = (
            defs()
            .resolve_job_def(JOB_NAME)
            .execute_in_process(
                partition_key="2025-12-01",
                instance=dg.DagsterInstance.ephemeral(),
                asset_selection=[*unification_dbt_models.keys, ERASURE_LOG],
                raise_on_error=False,
            )
        )
    assert result.success
    return erasure_scenario


def test_the_erasure_holds_when_the_request_file_is_gone(
    rerun_without_requests: ErasureScenario,
) -> None:
    scenario = rerun_without_requests
    _assert_build_db_clean(scenario)
    log = query(
        scenario.settings.build_db_path,
        "select erasure_request_hash, application, identity_keys, staging_rows "
        "from audit.erasure_log order by erased_at",
    )
    last = log[-1]
    # found again through the salted suppression list alone, and removed again
    assert last[0] == "suppression-list" and last[1] in {"first", "repeat"}
    assert last[2] >= 4 and last[3] > 0
