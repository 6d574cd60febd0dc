"""What an erasure hands fct_web_activity's next build (dagster_project/lib/privacy/erasure.py,
dbt/macros/marts/incremental_by_changed_customers.sql), on a tiny real DuckDB database: the
days of the anonymised counts, every other customer their keys named, and renewed day
fingerprints where the mart's memory was in step. The whole round trip through dbt (the next
build equals a full refresh) is in test_incremental_staging.py."""

from __future__ import annotations

from datetime import date

import duckdb

from dagster_project.lib.privacy import erasure

D1, D2, D3 = date(2026, 9, 1), date(2026, 9, 2), date(2026, 9, 3)


def _database() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema intermediate")
    con.execute(
        """
        create table intermediate.int_web__daily_key_activity as
        select * from (values
            ('f1', 'a1', 'erased@example.com', DATE '2026-09-01', 12),  -- A's account: A's row
            ('f1', null, 'erased@example.com', DATE '2026-09-02', 3),   -- E's own row
            ('f1', null, 'erased@example.com', DATE '2026-09-03', 4),   -- E's, day out of step
            ('f1', 'b1', 'b@example.com', DATE '2026-09-02', 5)         -- B: untouched
        ) as t(source_file, shop_account_id, email_normalized, activity_date, events)
        """
    )
    con.execute(
        """
        create view intermediate.int_web__daily_activity_fingerprints as
        select activity_date, count(*) as key_rows, sum(events) as events,
            sum(hash(source_file, shop_account_id, email_normalized, events)) as fingerprint
        from intermediate.int_web__daily_key_activity group by activity_date
        """
    )
    con.execute(
        """
        create table intermediate.int_web__activity_changes__built_days as
        select *, 'v1' as rules_version from intermediate.int_web__daily_activity_fingerprints
        """
    )
    # the mart was built before a change of day 3 it has not seen yet
    con.execute(
        "update intermediate.int_web__activity_changes__built_days set fingerprint = 42 "
        "where activity_date = DATE '2026-09-03'"
    )
    con.execute(
        """
        create table intermediate.int_web__activity_changes__built_keys as
        select * from (values ('account:a1', 'C-A'), ('email:erased@example.com', 'C-E'),
            ('account:b1', 'C-B'), ('email:b@example.com', 'C-B')) as t(node_key, customer_id)
        """
    )
    con.execute("create temp table _erasure_ids as select 'C-E' as customer_id")
    con.execute(
        "create temp table _hits as select rowid as rid from "
        "intermediate.int_web__daily_key_activity where email_normalized = 'erased@example.com'"
    )
    return con


def test_an_erasure_hands_its_moves_to_the_next_build_and_renews_the_fingerprints() -> None:
    con = _database()
    counts = '"intermediate"."int_web__daily_key_activity"'
    built_before = dict(
        con.sql(
            "select activity_date, fingerprint "
            "from intermediate.int_web__activity_changes__built_days"
        ).fetchall()
    )
    erasure._fetch_hit_rows(con, counts)
    assert erasure._hand_web_changes_to_next_build(con)
    columns = ["source_file", "shop_account_id", "email_normalized", "activity_date", "events"]
    erasure._rewrite_hit_rows(
        con, counts, columns, {"shop_account_id": "null", "email_normalized": "null"}
    )
    erasure._renew_web_fingerprints(con)
    assert con.sql(
        f"select count(*) from {counts} where email_normalized is not null"
    ).fetchall() == [(1,)]

    handed = set(
        con.sql(
            "select change, activity_date, customer_id "
            "from intermediate.int_web__activity_changes__erased"
        ).fetchall()
    )
    # A lost the counts of its row; the erased customer's id is never written down
    assert handed == {
        ("anonymous_day", D1, None),
        ("anonymous_day", D2, None),
        ("anonymous_day", D3, None),
        ("customer", None, "C-A"),
    }
    now = dict(
        con.sql(
            "select activity_date, fingerprint "
            "from intermediate.int_web__daily_activity_fingerprints"
        ).fetchall()
    )
    built = dict(
        con.sql(
            "select activity_date, fingerprint "
            "from intermediate.int_web__activity_changes__built_days"
        ).fetchall()
    )
    # days 1 and 2 were in step: they remember the anonymised counts now, so the next build
    # does not rebuild them whole; day 3 was not, and stays out of step (rebuilt whole)
    assert built[D1] == now[D1] != built_before[D1]
    assert built[D2] == now[D2] != built_before[D2]
    assert built[D3] != now[D3]

    # A second erasure of the same rows (`_hit_rows` still holds them) adds nothing twice.
    assert erasure._hand_web_changes_to_next_build(con)
    again = con.sql(
        "select count(*) from intermediate.int_web__activity_changes__erased"
    ).fetchall()
    assert again == [(len(handed),)]


def test_without_the_marts_memory_nothing_is_handed_over() -> None:
    con = _database()
    con.execute("drop table intermediate.int_web__activity_changes__built_keys")
    erasure._fetch_hit_rows(con, '"intermediate"."int_web__daily_key_activity"')
    assert not erasure._hand_web_changes_to_next_build(con)
    tables = con.sql(
        "select table_name from information_schema.tables "
        "where table_name = 'int_web__activity_changes__erased'"
    ).fetchall()
    assert tables == []
