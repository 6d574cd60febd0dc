"""The floor: bare DuckDB queries computing the same per-customer aggregates from the Parquet.

No dbt, no Dagster, no quality checks, no identity graph: the same simplified key rules as the
pandas reference (customer_no, else the e-mail's customer, else the shop account; store sales
via the loyalty card), FX conversion, then RFM aggregates, quintiles and ABC in one query. This
is close to what the hardware does for the aggregation part. Writes the per-customer (x, t_x, T)
to ``OUT_PARQUET`` (the CLV comparison's input) and prints one JSON line.
Run as ``python -m bench.floor LANDING_DIR AS_OF OUT_PARQUET``.
"""

from __future__ import annotations

import json
import sys
import time

import duckdb

SQL = """
create temp table purchases as
with crm as (
  select customer_no, lower(trim(email)) as email
  from read_parquet('{l}/crm_customers/*.parquet') where updated_at < {asof_end}
),
email_map as (
  select email, any_value(customer_no) as customer_no from (select distinct * from crm)
  where email is not null group by email having count(*) = 1
),
card_map as (
  select loyalty_card_no, any_value(customer_no) as customer_no
  from read_parquet('{l}/loyalty_cards/*.parquet') group by 1
),
fx as (select currency, rate_date, rate_to_reporting from read_parquet('{l}/fx_rates/*.parquet')),
shop as (
  select distinct on (order_id) * from read_parquet('{l}/shop_orders/*.parquet')
  where ordered_at < {asof_end} and coalesce(status, 'completed') = 'completed'
),
store as (
  select distinct on (transaction_id) * from read_parquet('{l}/store_transactions/*.parquet')
  where transacted_at < {asof_end} and not coalesce(is_return, false)
    and loyalty_card_no is not null
),
o as (
  select coalesce(s.customer_no, m.customer_no, 'acct:' || s.shop_account_id,
                  'mail:' || lower(trim(s.email))) as customer,
         s.ordered_at::date as day, s.amount, s.currency
  from shop s left join email_map m on m.email = lower(trim(s.email))
  union all
  select coalesce(c.customer_no, 'card:' || t.loyalty_card_no), t.transacted_at::date,
         t.amount, t.currency
  from store t left join card_map c using (loyalty_card_no)
)
select o.customer, o.day,
       o.amount * case when o.currency = 'EUR' then 1.0 else fx.rate_to_reporting end as amount
from o left join fx on fx.currency = o.currency and fx.rate_date = o.day
where o.customer is not null and o.amount is not null
  and (o.currency = 'EUR' or fx.rate_to_reporting is not null);

create temp table rfm as
with a as (
  select customer, count(*) as order_count, sum(amount) as monetary_total,
         min(day) as first_day, max(day) as last_day, count(distinct day) - 1 as frequency
  from purchases group by customer
), b as (
  select *, date '{asof}' - last_day as recency_days, date '{asof}' - first_day as t_days,
         last_day - first_day as t_x_days,
         sum(monetary_total) over (order by monetary_total desc
           rows between unbounded preceding and 1 preceding)
           / sum(monetary_total) over () as prev_share
  from a
)
select *,
  least(5, greatest(1, ceil(5 * percent_rank() over (order by recency_days desc) + 1e-9)))
    as r_score_approx,
  ntile(5) over (order by frequency) as f_score,
  ntile(5) over (order by monetary_total) as m_score,
  case when coalesce(prev_share, 0) < 0.8 then 'A' when prev_share < 0.95 then 'B' else 'C' end
    as abc_class
from b;
"""


def main(landing: str, as_of: str, out: str) -> dict:
    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute(SQL.format(l=landing, asof=as_of, asof_end=f"date '{as_of}' + 1"))
    orders = con.execute("select count(*) from purchases").fetchone()[0]
    customers, revenue = con.execute("select count(*), sum(monetary_total) from rfm").fetchone()
    con.execute(
        f"copy (select customer, frequency as x, t_x_days / 7.0 as t_x, t_days / 7.0 as T "
        f"from rfm) to '{out}' (format parquet)"
    )
    return {
        "customers": int(customers),
        "orders": int(orders),
        "revenue": float(revenue),
        "total_s": round(time.perf_counter() - t0, 3),
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2], sys.argv[3])))
