{#-
    One row per source record key with its customer, in the identity-map vocabulary:
      crm -> customer_no (from CRM, orders and loyalty cards),
      shop_account -> shop_account_id (from orders and web events), shop_order -> order_id,
      loyalty_card -> loyalty_card_no, store_transaction -> transaction_id (carded only),
      prospect -> prospect_id.
    seen_at is the earliest moment the record shows the person (for first_seen_at).

    A view over the two tables that hold the records: the shop orders, decided incrementally
    (int_identity__order_records: 12.5M of the 16.6M records at a million customers), and every
    other kind, rebuilt each time (int_identity__key_records). Copying both into one table cost
    more than its readers save.
-#}
{{ config(materialized='view') }}
with

key_records as (
    select * from {{ ref('int_identity__key_records') }}
),

order_records as (
    select * from {{ ref('int_identity__order_records') }}
),

final as (
    select source_system, source_key, node_key, customer_id, seen_at
    from key_records
    union all
    select
        'shop_order' as source_system,
        order_id as source_key,
        node_key,
        customer_id,
        ordered_at as seen_at
    from order_records
    -- an order whose key has no customer is nobody's record (nor is one the erasure cleared)
    where customer_id is not null
)

select * from final
