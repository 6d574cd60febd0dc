-- Every accepted shop order and carded store sale is in the identity map; anonymous ones are not.
with

shop_orders as (
    select * from {{ ref('stg_shop__orders') }}
),

store_transactions as (
    select * from {{ ref('stg_store__transactions') }}
),

identity_map as {{ not_materialized() }} (
    select * from {{ ref('customer_identity_map') }}
),

missing_orders as (
    select shop_orders.order_id as source_key, 'shop_order not mapped' as problem
    from shop_orders
    left join identity_map
        on identity_map.source_system = 'shop_order'
        and identity_map.source_key = shop_orders.order_id
    where identity_map.customer_id is null
),

store_mismatch as (
    select store_transactions.transaction_id as source_key, 'store_transaction mapping wrong' as problem
    from store_transactions
    left join identity_map
        on identity_map.source_system = 'store_transaction'
        and identity_map.source_key = store_transactions.transaction_id
    where (store_transactions.loyalty_card_no is null) <> (identity_map.customer_id is null)
)

select * from missing_orders
union all
select * from store_mismatch
