"""Segment migration between consecutive snapshots, and segment sizes over time (DuckDB SQL).

Conservation: every customer of the earlier snapshot leaves it exactly once and every customer
of the later one arrives exactly once. Customers absent from the earlier snapshot enter with
from_segment '(new)'; customers absent from the later one leave with to_segment '(gone)' (an
erased or merged customer id). So for each dimension and pair of months the flows add up to
both snapshots' sizes.
"""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl

from dagster_project.lib.months import add_months

DIMENSIONS = ("lifecycle_stage", "value_tier", "cluster_name", "segment")
NEW, GONE = "(new)", "(gone)"


def segment_migrations(
    con: duckdb.DuckDBPyConnection,
    to_month: date,
    *,
    segments: str = "marts.customer_segments",
    orders: str = "marts.fct_orders",
) -> pl.DataFrame:
    """Flows from the previous month's snapshot into `to_month`'s, per dimension.

    `revenue` is what the customers of a flow spent in `to_month` (completed purchases).
    Returns no rows when the previous month has no snapshot yet.
    """
    from_month = add_months(to_month, -1)
    unpivot = " union all ".join(
        f"select snapshot_month, customer_id, '{d}' as dimension, "
        f"cast({d} as varchar) as segment from {segments} "
        "where snapshot_month in ($from_month, $to_month)"
        for d in DIMENSIONS
    )
    return con.sql(
        f"""
        with long as ({unpivot}),
        before as (select * from long where snapshot_month = $from_month),
        after as (select * from long where snapshot_month = $to_month),
        revenue as (
            select customer_id, sum(amount) as revenue
            from {orders}
            where customer_id is not null and status = 'completed'
              and ordered_at >= $to_month and ordered_at < $month_after
            group by customer_id
        ),
        flows as (
            select
                coalesce(b.dimension, a.dimension) as dimension,
                coalesce(b.segment, '{NEW}') as from_segment,
                coalesce(a.segment, '{GONE}') as to_segment,
                a.customer_id as to_customer_id,
                coalesce(a.customer_id, b.customer_id) as customer_id
            from before as b
            full outer join after as a
                on a.customer_id = b.customer_id and a.dimension = b.dimension
        )
        select
            cast($from_month as date) as from_month,
            cast($to_month as date) as to_month,
            dimension,
            from_segment,
            to_segment,
            count(*) as customers,
            -- customers who left the snapshot made no revenue in it
            cast(coalesce(sum(case when to_customer_id is not null then r.revenue end), 0)
                as double) as revenue
        from flows
        left join revenue as r using (customer_id)
        where (select count(*) from before) > 0
        group by dimension, from_segment, to_segment
        order by dimension, from_segment, to_segment
        """,
        params={
            "from_month": from_month,
            "to_month": to_month,
            "month_after": add_months(to_month, 1),
        },
    ).pl()


def segment_sizes(
    con: duckdb.DuckDBPyConnection,
    month: date,
    *,
    segments: str = "marts.customer_segments",
    scores: str = "marts.customer_scores",
) -> pl.DataFrame:
    """One row per dimension × segment of `month`: customers, share, revenue of the last 12
    months and average predicted CLV — the series BI plots over time."""
    unpivot = " union all ".join(
        f"select s.customer_id, '{d}' as dimension, cast(s.{d} as varchar) as segment "
        f"from {segments} s where s.snapshot_month = $month"
        for d in DIMENSIONS
    )
    return con.sql(
        f"""
        with long as ({unpivot}),
        scored as (select * from {scores} where snapshot_month = $month)
        select
            cast($month as date) as snapshot_month,
            long.dimension,
            long.segment,
            count(*) as customers,
            count(*) / sum(count(*)) over (partition by long.dimension) as share,
            cast(coalesce(sum(scored.revenue_12m), 0) as double) as revenue_12m,
            avg(scored.predicted_clv_12m) as avg_predicted_clv_12m
        from long
        left join scored using (customer_id)
        group by long.dimension, long.segment
        order by long.dimension, customers desc
        """,
        params={"month": month},
    ).pl()


def top_movements(migrations: pl.DataFrame, currency: str, limit: int = 5) -> list[str]:
    """The largest moves between different segments, in words, e.g.
    "312 customers moved from VIP to at risk; they spent EUR 48,120 in 2025-12"."""
    moves = migrations.filter(
        (pl.col("dimension") == "segment")
        & (pl.col("from_segment") != pl.col("to_segment"))
        & (pl.col("from_segment") != NEW)
        & (pl.col("to_segment") != GONE)
    ).sort(["customers", "from_segment", "to_segment"], descending=[True, False, False])
    sentences = []
    for row in moves.head(limit).iter_rows(named=True):
        sentences.append(
            f"{row['customers']:,} customers moved from {row['from_segment']} to "
            f"{row['to_segment']}; they spent {currency} {row['revenue']:,.0f} in "
            f"{row['to_month']:%Y-%m}"
        )
    return sentences
