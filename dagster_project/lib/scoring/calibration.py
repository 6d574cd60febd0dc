"""Calibration of the CLV model: predicted purchases against what actually happened next.

Scores a past snapshot and compares each customer's `expected_orders_12m` with the purchase days
they actually had in the following 12 months, in total and by frequency group — the check
Fader & Hardie use for BG/NBD ("conditional expectations").
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import polars as pl

from dagster_project.lib.months import add_months, month_end
from dagster_project.lib.scoring.customer_scores import ScoringParameters, score_customers
from dagster_project.lib.scoring.purchases import customer_purchase_facts

FREQUENCY_GROUPS = [
    (0, 0, "0"),
    (1, 1, "1"),
    (2, 2, "2"),
    (3, 4, "3-4"),
    (5, 9, "5-9"),
    (10, 10**9, "10+"),
]


def calibration_by_frequency(
    con: duckdb.DuckDBPyConnection,
    snapshot_month: date,
    params: ScoringParameters | None = None,
    *,
    orders: str = "marts.fct_orders",
    customers: str = "marts.dim_customers",
) -> pl.DataFrame:
    """Rows per frequency group (and a 'total' row): customers, predicted, actual, ratio."""
    as_of = month_end(snapshot_month)
    horizon_end = month_end(add_months(snapshot_month, 12))
    facts = customer_purchase_facts(
        con, as_of, orders=orders, customers=customers, web_activity=None, order_lines=None
    )
    scores = score_customers(facts, snapshot_month, params or ScoringParameters()).scores.filter(
        pl.col("order_count") > 0
    )
    actual = con.sql(
        f"""
        select customer_id, count(distinct cast(ordered_at as date)) as actual_orders
        from {orders}
        where customer_id is not null and status = 'completed'
          and ordered_at >= $start and ordered_at < $stop
        group by customer_id
        """,
        params={"start": as_of + timedelta(days=1), "stop": horizon_end + timedelta(days=1)},
    ).pl()
    joined = scores.join(actual, on="customer_id", how="left").with_columns(
        pl.col("actual_orders").fill_null(0)
    )
    group = pl.lit(None, dtype=pl.Utf8)
    for low, high, label in reversed(FREQUENCY_GROUPS):
        group = (
            pl.when(pl.col("frequency").is_between(low, high)).then(pl.lit(label)).otherwise(group)
        )
    order = {label: i for i, (_, _, label) in enumerate(FREQUENCY_GROUPS)}
    by_group = (
        joined.with_columns(group.alias("frequency_group"))
        .group_by("frequency_group")
        .agg(
            pl.len().alias("customers"),
            pl.col("expected_orders_12m").sum().alias("predicted"),
            pl.col("actual_orders").sum().alias("actual"),
        )
        .sort(pl.col("frequency_group").replace_strict(order, default=99))
    )
    total = by_group.select(
        pl.lit("total").alias("frequency_group"),
        pl.col("customers").sum(),
        pl.col("predicted").sum(),
        pl.col("actual").sum(),
    )
    return pl.concat([by_group, total], how="vertical_relaxed").with_columns(
        (pl.col("predicted") / pl.col("actual")).round(3).alias("ratio"),
        pl.col("predicted").round(1),
    )
