{#- One row per shop order or store transaction; amounts in the reporting currency.
    customer_id is null for anonymous store sales (no loyalty card). -#}
with

shop_orders as (
    select * from {{ ref('stg_shop__orders') }}
),

store_transactions as (
    select * from {{ ref('stg_store__transactions') }}
),

source_records as (
    select * from {{ ref('int_identity__source_records') }}
),

node_customers as (
    select * from {{ ref('int_identity__node_customers') }}
),

shop as (
    select
        shop_orders.order_id,
        'shop' as source_system,
        source_records.customer_id,
        shop_orders.ordered_at,
        shop_orders.channel,
        shop_orders.device,
        shop_orders.amount,
        shop_orders.status,
        shop_orders.currency,
        shop_orders.amount_original,
        shop_orders.source_file
    from shop_orders
    -- the identity map already holds each order's customer (its deciding key's)
    inner join source_records
        on source_records.source_system = 'shop_order'
        and source_records.source_key = shop_orders.order_id
),

store as (
    select
        store_transactions.transaction_id as order_id,
        'store' as source_system,
        node_customers.customer_id,
        store_transactions.transacted_at as ordered_at,
        'store' as channel,
        cast(null as {{ dbt.type_string() }}) as device,
        store_transactions.amount,
        case when store_transactions.is_return then 'returned' else 'completed' end as status,
        store_transactions.currency,
        store_transactions.amount_original,
        store_transactions.source_file
    from store_transactions
    left join node_customers
        on node_customers.node_key = {{ dbt.concat(["'card:'", 'store_transactions.loyalty_card_no']) }}
),

final as (
    select * from shop
    union all
    select * from store
)

select * from final
