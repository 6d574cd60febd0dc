-- The accepted rows counted per table in audit.load_reconciliation are the staging rows.
with

reconciliation as (
    select source_table, sum(rows_accepted) as rows_accepted
    from {{ ref('load_reconciliation') }}
    group by source_table
),

staged as (
    select 'crm_customers' as source_table, count(*) as rows_staged from {{ ref('stg_crm__customers') }}
    union all
    select 'shop_orders', count(*) from {{ ref('stg_shop__orders') }}
    union all
    select 'order_lines', count(*) from {{ ref('stg_shop__order_lines') }}
    union all
    select 'store_transactions', count(*) from {{ ref('stg_store__transactions') }}
    union all
    select 'loyalty_cards', count(*) from {{ ref('stg_loyalty__cards') }}
    union all
    select 'web_events', count(*) from {{ ref('stg_web__events') }}
    union all
    select 'prospects', count(*) from {{ ref('stg_marketing__prospects') }}
    union all
    select 'fx_rates', count(*) from {{ ref('stg_finance__fx_rates') }}
    union all
    select 'erasure_requests', count(*) from {{ ref('stg_privacy__erasure_requests') }}
)

select
    staged.source_table,
    staged.rows_staged,
    coalesce(reconciliation.rows_accepted, 0) as rows_accepted
from staged
left join reconciliation
    on reconciliation.source_table = staged.source_table
where staged.rows_staged <> coalesce(reconciliation.rows_accepted, 0)
