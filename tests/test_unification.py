"""Customer unification end to end: demo landing zone → dbt → Dagster → published warehouse."""

from __future__ import annotations

import re
from datetime import date

import duckdb
import polars as pl

from dagster_project.lib.identity_quality import pairwise_quality
from dagster_project.lib.scoring.purchases import customer_purchase_facts
from tests.conftest import BuiltWarehouse, query

CONTRACT_COLUMNS = {
    "dim_customers": {
        "customer_id",
        "first_seen_at",
        "source_systems",
        "country",
        "postal_code",
        "age_band",
        "gender",
        "marketing_opt_in",
    },
    "customer_identity_map": {"source_system", "source_key", "customer_id"},
    "fct_orders": {
        "order_id",
        "source_system",
        "customer_id",
        "ordered_at",
        "channel",
        "device",
        "amount",
        "status",
    },
}
AUDIT_COLUMNS = {
    "quarantine": {"source_table", "source_file", "source_line", "reason", "record", "loaded_at"},
    "load_reconciliation": {
        "source_table",
        "source_file",
        "rows_read",
        "rows_accepted",
        "rows_quarantined",
        "loaded_at",
    },
}


def _columns(path, schema: str, table: str) -> set[str]:
    rows = query(
        path,
        "select column_name from information_schema.columns "
        f"where table_schema = '{schema}' and table_name = '{table}'",
    )
    return {r[0] for r in rows}


def test_published_warehouse_has_the_contract_tables_filled(demo_warehouse: BuiltWarehouse):
    path = demo_warehouse.settings.duckdb_path
    for table, columns in CONTRACT_COLUMNS.items():
        assert columns <= _columns(path, "marts", table), table
        assert query(path, f"select count(*) from marts.{table}")[0][0] > 1000, table
    for table, columns in AUDIT_COLUMNS.items():
        assert columns <= _columns(path, "audit", table), table


def test_identity_resolution_against_ground_truth(demo_warehouse: BuiltWarehouse):
    truth = (demo_warehouse.demo.truth_dir / "identity_truth.parquet").as_posix()
    con = duckdb.connect(str(demo_warehouse.settings.duckdb_path), read_only=True)
    try:
        quality = pairwise_quality(con, "marts.customer_identity_map", f"read_parquet('{truth}')")
    finally:
        con.close()
    print(f"\nidentity resolution on the demo data: {quality}")
    assert quality.precision >= 0.999
    assert quality.recall >= 0.98


def test_households_sharing_an_email_stay_separate_customers(demo_warehouse: BuiltWarehouse):
    """Two CRM customer numbers never become one customer, whatever they share."""
    rows = query(
        demo_warehouse.settings.duckdb_path,
        """
        select customer_id, count(*) from marts.customer_identity_map
        where source_system = 'crm' group by all having count(*) > 1
        """,
    )
    assert rows == []


def test_every_crm_email_ever_held_links_to_its_customer(demo_warehouse: BuiltWarehouse):
    """A guest order placed with a CRM customer's old e-mail belongs to that customer."""
    landing = demo_warehouse.demo.landing_dir.as_posix()
    truth = (demo_warehouse.demo.truth_dir / "identity_truth.parquet").as_posix()
    con = duckdb.connect(str(demo_warehouse.settings.duckdb_path), read_only=True)
    try:
        changed = con.execute(
            f"""
            with crm as (
                select customer_no, lower(trim(email)) as email, updated_at
                from read_csv('{landing}/crm_customers/*.csv', all_varchar = true)
                where email is not null
            ),
            history as (
                select customer_no, email,
                       rank() over (partition by customer_no order by updated_at desc) as age
                from crm
            ),
            old_only as (  -- e-mails a customer had before the latest update, used by nobody else
                select customer_no, email from history h
                where age > 1
                  and email not in (select email from history where age = 1)
                  and email in (select email from crm group by email
                                having count(distinct customer_no) = 1)
            ),
            guest_orders as (
                select order_id, lower(trim(email)) as email
                from read_csv('{landing}/shop_orders/*.csv', all_varchar = true)
                where customer_no is null and shop_account_id is null
            )
            select o.customer_no, g.order_id, crm_map.customer_id, order_map.customer_id
            from old_only o
            join guest_orders g using (email)
            join read_parquet('{truth}') t
                on t.source_system = 'shop_order' and t.source_key = g.order_id
                and not t.is_bad_row
            join marts.customer_identity_map crm_map
                on crm_map.source_system = 'crm' and crm_map.source_key = o.customer_no
            join marts.customer_identity_map order_map
                on order_map.source_system = 'shop_order' and order_map.source_key = g.order_id
            """
        ).fetchall()
    finally:
        con.close()
    assert changed, "the demo data should hold guest orders placed with a changed e-mail"
    assert all(crm_id == order_id for _, _, crm_id, order_id in changed)


def test_anonymous_store_sales_belong_to_nobody(demo_warehouse: BuiltWarehouse):
    path = demo_warehouse.settings.duckdb_path
    anonymous, carded_without_customer = query(
        path,
        """
        select
            count(*) filter (where customer_id is null),
            count(*) filter (where customer_id is null and order_id in (
                select source_key from marts.customer_identity_map
                where source_system = 'store_transaction'))
        from marts.fct_orders where source_system = 'store'
        """,
    )[0]
    assert anonymous > 0
    assert carded_without_customer == 0


def test_orders_reconcile_with_the_landing_files(demo_warehouse: BuiltWarehouse):
    """Every landing row is either accepted or quarantined; nothing vanishes."""
    path = demo_warehouse.settings.duckdb_path
    bad = query(
        path,
        """
        select source_file from audit.load_reconciliation
        where rows_read <> rows_accepted + rows_quarantined
        """,
    )
    assert bad == []
    per_table = dict(
        query(
            path,
            "select source_table, sum(rows_read) from audit.load_reconciliation group by all",
        )
    )
    landing = demo_warehouse.demo.landing_dir
    for table in ("shop_orders", "store_transactions", "crm_customers"):
        lines = sum(
            sum(1 for _ in f.open(encoding="utf-8")) - 1 for f in (landing / table).glob("*.csv")
        )
        assert per_table[table] == lines, table
    accepted_orders = query(
        path,
        """
        select sum(rows_accepted) from audit.load_reconciliation
        where source_table in ('shop_orders', 'store_transactions')
        """,
    )[0][0]
    assert query(path, "select count(*) from marts.fct_orders")[0][0] <= accepted_orders


def test_the_published_file_carries_no_personal_data(demo_warehouse: BuiltWarehouse):
    path = demo_warehouse.settings.duckdb_path
    personal = re.compile(r"(first|last)_name|e_?mail|phone|street|birth_date", re.IGNORECASE)
    columns = query(
        path, "select table_schema, table_name, column_name from information_schema.columns"
    )
    assert [c for c in columns if personal.search(c[2])] == []
    # Values too: no e-mail address anywhere in any text column (the quarantine masks them).
    con = duckdb.connect(str(path), read_only=True)
    try:
        for schema, table, column in columns:
            hits = con.execute(
                f"select count(*) from {schema}.{table} "
                f"where regexp_matches(cast({column} as varchar), '[^@\\s]+@[^@\\s]+\\.[a-z]+')"
            ).fetchall()[0][0]
            assert hits == 0, f"{schema}.{table}.{column}"
    finally:
        con.close()


def test_customer_ids_are_salted_so_an_email_alone_does_not_reveal_one(
    demo_warehouse: BuiltWarehouse,
):
    """Unsalted, a guest's id would be 'cus_' || md5('email:<address>')[:16] for everyone to
    compute; each installation salts new ids with its own secret (dbt mint_customer_id)."""
    build = demo_warehouse.settings.build_db_path
    computable, customers = query(
        build,
        "select count(distinct n.customer_id) filter ("
        "    where n.customer_id = 'cus_' || substring(md5(g.group_key), 1, 16)), "
        "  count(distinct n.customer_id) "
        "from intermediate.int_identity__customer_groups as g "
        "inner join intermediate.int_identity__node_customers as n using (node_key)",
    )[0]
    assert customers > 1000 and computable == 0


def test_web_activity_counts_every_staged_event_for_its_customer(
    demo_warehouse: BuiltWarehouse,
):
    """marts.fct_web_activity (customer x day x event type x device) against the events
    themselves: each staged event looked up one by one (account first, then e-mail) in the
    identified keys. The totals, the per-customer counts per day and type, dim_customers'
    web_events and the scores' 12-month sessions (window edges included) must all agree."""
    as_of = date(2025, 12, 31)
    con = duckdb.connect(str(demo_warehouse.settings.build_db_path), read_only=True)
    try:
        con.execute(
            """
            create temp table direct as
            select
                coalesce(by_account.customer_id, by_email.customer_id) as customer_id,
                cast(e.occurred_at as date) as activity_date,
                e.event_type,
                e.occurred_at
            from staging.stg_web__events as e
            left join intermediate.int_identity__identified_keys as by_account
                on by_account.node_key = 'account:' || e.shop_account_id
            left join intermediate.int_identity__identified_keys as by_email
                on by_email.node_key = 'email:' || e.email_normalized
            """
        )
        staged, identified, customers = con.execute(
            "select count(*), count(customer_id), count(distinct customer_id) from direct"
        ).fetchall()[0]
        assert customers > 500 and 0 < identified < staged  # known and anonymous events
        assert con.execute("select sum(events) from marts.fct_web_activity").fetchall()[0][0] == (
            staged
        )
        mismatches = con.execute(
            """
            with expected as (
                select customer_id, activity_date, event_type, count(*) as events
                from direct where customer_id is not null group by all
            ),
            actual as (
                select customer_id, activity_date, event_type, sum(events) as events
                from marts.fct_web_activity where customer_id is not null group by all
            )
            select * from expected full join actual using (customer_id, activity_date, event_type)
            where expected.events is distinct from actual.events
            """
        ).fetchall()
        assert mismatches == []
        web_events = con.execute(
            """
            select count(*) from marts.dim_customers as d
            left join (select customer_id, count(*) as n from direct group by all) as e
                using (customer_id)
            where d.web_events <> coalesce(e.n, 0)
            """
        ).fetchall()[0][0]
        assert web_events == 0
        sessions = dict(
            con.execute(
                """
                select customer_id, count(*) from direct
                where customer_id is not null and event_type = 'session'
                  and occurred_at < $as_of + interval 1 day
                  and occurred_at >= $as_of - interval 365 day
                group by all
                """,
                {"as_of": as_of},
            ).fetchall()
        )
        facts = customer_purchase_facts(con, as_of)
    finally:
        con.close()
    scored = {
        row["customer_id"]: row["web_sessions_12m"]
        for row in facts.filter(pl.col("web_sessions_12m") > 0).iter_rows(named=True)
    }
    assert len(sessions) > 100 and scored == sessions
    assert facts["web_sessions_12m"].dtype == pl.Int64
