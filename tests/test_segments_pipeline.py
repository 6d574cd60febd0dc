"""Scores and segments of a real pipeline run on the demo data (the session's warehouse)."""

from __future__ import annotations

from tests.conftest import BuiltWarehouse, query

MONTH = "2025-12-01"
NUMERIC_SCORES = (
    "recency_days",
    "frequency",
    "order_count",
    "monetary_total",
    "avg_order_value",
    "clv_historical",
    "p_alive",
    "expected_orders_12m",
    "predicted_clv_12m",
)


def test_a_snapshot_holds_exactly_the_customers_first_seen_by_its_last_day(
    demo_warehouse: BuiltWarehouse,
):
    path = demo_warehouse.settings.duckdb_path
    expected = query(
        path,
        "select count(*) from marts.dim_customers where first_seen_at < date '2026-01-01'",
    )[0][0]
    scored, segmented = query(
        path,
        f"""
        select
            (select count(distinct customer_id) from marts.customer_scores
             where snapshot_month = date '{MONTH}'),
            (select count(*) from marts.customer_segments where snapshot_month = date '{MONTH}')
        """,
    )[0]
    assert expected > 1000
    assert scored == segmented == expected


def test_no_published_score_is_nan_or_infinite(demo_warehouse: BuiltWarehouse):
    path = demo_warehouse.settings.duckdb_path
    checks = " + ".join(f"count(*) filter (where isnan({c}) or isinf({c}))" for c in NUMERIC_SCORES)
    assert query(path, f"select {checks} from marts.customer_scores")[0][0] == 0
    bad_params = query(
        path,
        "select count(*) from marts.clv_model_params where value is null "
        "or isnan(value) or isinf(value)",
    )[0][0]
    assert bad_params == 0


def test_every_customer_has_one_stage_segment_and_a_reason(demo_warehouse: BuiltWarehouse):
    path = demo_warehouse.settings.duckdb_path
    missing = query(
        path,
        f"""
        select count(*) from marts.customer_segments
        where snapshot_month = date '{MONTH}' and (
            lifecycle_stage is null or segment is null or value_tier is null
            or cluster_name is null or length(segment_reason) < 10)
        """,
    )[0][0]
    assert missing == 0
    stages = {
        r[0] for r in query(path, "select distinct lifecycle_stage from marts.customer_segments")
    }
    assert {"prospect", "new", "active", "at_risk", "lapsed"} <= stages


def test_clv_parameters_are_published_with_their_time_unit(demo_warehouse: BuiltWarehouse):
    rows = query(
        demo_warehouse.settings.duckdb_path,
        f"""
        select model, parameter, time_unit, customers_fitted from marts.clv_model_params
        where snapshot_month = date '{MONTH}' order by model, parameter
        """,
    )
    names = {(model, parameter) for model, parameter, _, _ in rows}
    assert {("bg_nbd", p) for p in ("r", "alpha", "a", "b")} <= names
    assert {("gamma_gamma", p) for p in ("p", "q", "gamma")} <= names
    assert {unit for model, _, unit, _ in rows if model == "bg_nbd"} == {"week"}
    assert all(fitted > 100 for _, _, _, fitted in rows)


def test_predicted_orders_are_calibrated_against_the_following_year(
    demo_warehouse: BuiltWarehouse,
):
    """Score 2024-12 (14 months of history) and compare with what 2025 actually brought."""
    from datetime import date

    import duckdb

    from dagster_project.lib.scoring.calibration import calibration_by_frequency

    con = duckdb.connect(str(demo_warehouse.settings.duckdb_path), read_only=True)
    try:
        table = calibration_by_frequency(con, date(2024, 12, 1))
    finally:
        con.close()
    print(f"\nBG/NBD calibration, snapshot 2024-12 vs purchase days in 2025:\n{table}")
    total = table.filter(table["frequency_group"] == "total").row(0, named=True)
    assert total["customers"] > 300
    assert 0.75 <= total["ratio"] <= 1.25
    # More past purchases, more predicted purchases: the model ranks customers correctly.
    groups = table.filter(table["frequency_group"] != "total")
    per_customer = (groups["predicted"] / groups["customers"]).to_list()
    assert per_customer == sorted(per_customer)


def _table_digest(path, table: str, where: str) -> tuple:
    """Order-independent digest of a table's rows: count and a hash over every column."""
    return query(
        path,
        f"select count(*), sum(hash(columns(*))) from {table} where {where}",
    )[0]


def test_rerunning_a_month_replaces_exactly_that_month(demo_warehouse: BuiltWarehouse):
    from datetime import date

    from tests.conftest import warehouse_env

    settings = demo_warehouse.settings
    tables = ("marts.customer_scores", "marts.customer_segments", "marts.clv_model_params")
    with warehouse_env(demo_warehouse.demo.landing_dir, settings.duckdb_path):
        from dagster_project.lib.job_runner import run_months

        before = {
            (t, m): _table_digest(settings.duckdb_path, t, f"snapshot_month = date '{m}'")
            for t in tables
            for m in ("2025-11-01", "2025-12-01")
        }
        # Re-running December changes nothing, in December or in November.
        assert run_months([date(2025, 12, 1)], quiet=True, unify=False).success
    after = {
        (t, m): _table_digest(settings.duckdb_path, t, f"snapshot_month = date '{m}'")
        for t in tables
        for m in ("2025-11-01", "2025-12-01")
    }
    assert after == before
    assert all(digest[0] > 0 for digest in before.values())


def test_the_kept_purchase_facts_are_those_the_scores_used_and_never_published(
    demo_warehouse: BuiltWarehouse,
):
    """Segmentation and profiles read the facts the scoring step kept, not a new computation
    (which later files may change: a customer first seen in November can arrive in December's
    files): each month's kept facts are the ones behind that month's scores, and those of the
    latest run are exactly what `customer_purchase_facts` gives as of its last day."""
    from datetime import date

    import duckdb
    from polars.testing import assert_frame_equal

    from dagster_project.lib.months import month_end
    from dagster_project.lib.scoring.purchases import (
        FACTS_TABLE,
        customer_purchase_facts,
        stored_purchase_facts,
    )

    con = duckdb.connect(str(demo_warehouse.settings.build_db_path), read_only=True)
    try:
        months = sorted(
            m for (m,) in con.sql(f"select distinct snapshot_month from {FACTS_TABLE}").fetchall()
        )
        assert months == [date(2025, 10, 1), date(2025, 11, 1), date(2025, 12, 1)]
        for month in months:
            kept = stored_purchase_facts(con, month)
            scores = con.sql(
                "select customer_id, order_count, monetary_total from marts.customer_scores "
                "where snapshot_month = $month order by customer_id",
                params={"month": month},
            ).pl()
            assert kept.height > 1000
            assert_frame_equal(
                kept.select(scores.columns), scores, check_dtypes=False, check_exact=False
            )
        latest = months[-1]
        assert_frame_equal(
            stored_purchase_facts(con, latest),
            customer_purchase_facts(con, month_end(latest)),
        )
    finally:
        con.close()
    published = query(
        demo_warehouse.settings.duckdb_path,
        "select count(*) from information_schema.tables where table_schema = 'model'",
    )
    assert published == [(0,)]
