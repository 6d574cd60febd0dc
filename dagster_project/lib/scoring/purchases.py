"""Per-customer purchase facts as of a snapshot's last day, in DuckDB SQL.

The contract's definitions (as of the snapshot's last day, completed orders only; cancelled and
returned orders never count as purchases):
- order_count: completed orders and store purchases; monetary_total: their summed amount;
- frequency: distinct purchase days minus one (the buy-till-you-die convention);
- recency_days: days from the last purchase day to the as-of day;
- tenure_days (the models' T): days from the first purchase day to the as-of day.
A snapshot holds every customer first seen on or before the as-of day; a known customer without
a purchase has order_count 0 and null frequency and recency.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import polars as pl

from dagster_project.lib.months import month_end
from dagster_project.lib.relations import table_columns
from dagster_project.lib.warehouse import replace_snapshot


def _favourite(name: str, count: str) -> str:
    """The aggregate of the `name` with the largest `count`, ties to the first alphabetically."""
    return f"first({name} order by {count} desc, {name})"


def customer_purchase_facts(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    *,
    orders: str = "marts.fct_orders",
    customers: str = "marts.dim_customers",
    web_activity: str | None = "marts.fct_web_activity",
    order_lines: str | None = "staging.stg_shop__order_lines",
) -> pl.DataFrame:
    """One row per customer first seen by `as_of`; nothing dated after `as_of` is read.

    Besides the contract's facts it returns the behaviour mix the clusters use: the share of
    purchases per channel (web, app, store) and on mobile devices, web sessions in the last
    12 months (0 without a web-activity table), and the category mix of shop purchases as two
    catalogue-independent measures: how many categories a customer buys (`category_breadth`)
    and how much of their spend goes to their favourite one (`top_category_share`). Category
    *names* describe segments in the personas; keeping them out of the clustering distance
    keeps cluster ids comparable from month to month whatever the catalogue does.

    For the personas (`profiles.attribute_lifts`) it also names each buyer's favourites:
    `main_channel` and `main_device` (most completed purchases) and `top_category` (most units
    bought in the shop); ties go to the first name alphabetically. They are computed here, from
    the rows this query reads anyway, because at a million customers reading 17M orders and
    22M order lines once more took the profiles step 20 s.
    """
    day_after = as_of + timedelta(days=1)
    categories = (
        f"""
        with spend as (
            select
                o.customer_id,
                l.category,
                sum(l.quantity * l.unit_price) as spend,
                sum(coalesce(l.quantity, 1)) as units
            from {order_lines} as l
            join {orders} as o on o.order_id = l.order_id and o.source_system = 'shop'
            where o.customer_id is not null and o.status = 'completed'
              and o.ordered_at < $day_after and l.category is not null
            group by o.customer_id, l.category
        )
        select
            customer_id,
            count(*) as category_breadth,
            max(spend) / nullif(sum(spend), 0) as top_category_share,
            {_favourite("category", "units")} as top_category
        from spend
        group by customer_id
        """
        if order_lines
        else "select cast(null as varchar) as customer_id, 0 as category_breadth, "
        "cast(null as double) as top_category_share, cast(null as varchar) as top_category "
        "where false"
    )
    sessions = (
        f"""
        select customer_id, cast(sum(events) as bigint) as web_sessions_12m
        from {web_activity}
        where customer_id is not null and event_type = 'session'
          and activity_date <= $as_of and activity_date >= $as_of - interval 365 day
        group by customer_id
        """
        if web_activity
        else "select cast(null as varchar) as customer_id, 0 as web_sessions_12m where false"
    )
    return con.sql(
        f"""
        with purchases as (
            select customer_id, cast(ordered_at as date) as purchase_day, amount, channel, device
            from {orders}
            where customer_id is not null
              and status = 'completed'
              and ordered_at < $day_after
        ),
        daily as (
            select customer_id, purchase_day, sum(amount) as day_amount, count(*) as day_orders
            from purchases
            group by customer_id, purchase_day
        ),
        per_customer as (
            select
                customer_id,
                sum(day_orders) as order_count,
                sum(day_amount) as monetary_total,
                count(*) - 1 as frequency,
                min(purchase_day) as first_purchase_day,
                max(purchase_day) as last_purchase_day,
                -- mean spend per repeat purchase day (Gamma-Gamma input): the first day is
                -- the acquisition purchase and is left out
                case when count(*) > 1
                    then (sum(day_amount) - arg_min(day_amount, purchase_day)) / (count(*) - 1)
                end as mean_repeat_spend,
                sum(day_amount) filter (where purchase_day > $as_of - interval 365 day)
                    as revenue_12m,
                sum(day_orders) filter (where purchase_day > $as_of - interval 365 day)
                    as orders_12m
            from daily
            group by customer_id
        ),
        mix as (
            select
                customer_id,
                avg(case when channel = 'web' then 1.0 else 0.0 end) as share_web,
                avg(case when channel = 'app' then 1.0 else 0.0 end) as share_app,
                avg(case when channel = 'store' then 1.0 else 0.0 end) as share_store,
                avg(case when device in ('mobile', 'tablet') then 1.0 else 0.0 end)
                    as share_mobile
            from purchases
            group by customer_id
        ),
        favourites as (
            select
                customer_id,
                {_favourite("value", "n")} filter (where kind = 'channel') as main_channel,
                {_favourite("value", "n")} filter (where kind = 'device') as main_device
            from (
                select customer_id, 'channel' as kind, channel as value, count(*) as n
                from purchases where channel is not null group by all
                union all
                select customer_id, 'device', device, count(*)
                from purchases where device is not null group by all
            )
            group by customer_id
        ),
        sessions as ({sessions}),
        categories as ({categories}),
        known as (
            select customer_id, cast(first_seen_at as date) as first_seen_day
            from {customers}
            where first_seen_at < $day_after
        )
        select
            k.customer_id,
            k.first_seen_day,
            coalesce(p.order_count, 0) as order_count,
            coalesce(p.monetary_total, 0) as monetary_total,
            p.frequency,
            date_diff('day', p.last_purchase_day, $as_of) as recency_days,
            date_diff('day', p.first_purchase_day, $as_of) as tenure_days,
            date_diff('day', p.first_purchase_day, p.last_purchase_day) as t_x_days,
            date_diff('day', k.first_seen_day, $as_of) as known_days,
            p.first_purchase_day,
            p.last_purchase_day,
            p.mean_repeat_spend,
            coalesce(p.revenue_12m, 0) as revenue_12m,
            coalesce(p.orders_12m, 0) as orders_12m,
            mix.share_web,
            mix.share_app,
            mix.share_store,
            mix.share_mobile,
            coalesce(s.web_sessions_12m, 0) as web_sessions_12m,
            coalesce(c.category_breadth, 0) as category_breadth,
            coalesce(c.top_category_share, 0) as top_category_share,
            f.main_channel,
            f.main_device,
            c.top_category
        from known as k
        left join per_customer as p using (customer_id)
        left join mix using (customer_id)
        left join favourites as f using (customer_id)
        left join sessions as s using (customer_id)
        left join categories as c using (customer_id)
        order by k.customer_id
        """,
        params={"as_of": as_of, "day_after": day_after},
    ).pl()


# The facts of each snapshot month, kept in the build database (never published) by the scoring
# step: segmentation and profiles of the same month read them instead of computing them twice
# more (at a million customers each computation reads 17M orders and 22M order lines).
FACTS_TABLE = "model.customer_purchase_facts"
# The newest columns of the facts: a kept table without them is from an earlier version.
FACT_PERSONA_COLUMNS = frozenset({"main_channel", "main_device", "top_category"})


def keep_purchase_facts(con: duckdb.DuckDBPyConnection, facts: pl.DataFrame, month: date) -> None:
    """Keep `facts` as snapshot `month`'s. The table is a cache: one kept by an earlier version
    with other columns is dropped first (its months are computed again when read)."""
    kept = table_columns(con, *FACTS_TABLE.split("."))
    if kept and kept != [*facts.columns, "snapshot_month"]:
        con.execute(f"drop table {FACTS_TABLE}")
    replace_snapshot(con, FACTS_TABLE, facts.with_columns(snapshot_month=pl.lit(month)), month)


def stored_purchase_facts(con: duckdb.DuckDBPyConnection, month: date) -> pl.DataFrame:
    """The facts the scoring step kept for snapshot `month`, as `customer_purchase_facts`
    returns them; computed as of the month's last day when none were kept (a warehouse from
    before they were kept, or from before a column was added)."""
    if set(table_columns(con, *FACTS_TABLE.split("."))) >= FACT_PERSONA_COLUMNS:
        facts = con.sql(
            f"select * exclude (snapshot_month) from {FACTS_TABLE} "
            "where snapshot_month = $month order by customer_id",
            params={"month": month},
        ).pl()
        if facts.height:
            return facts
    return customer_purchase_facts(con, month_end(month))
