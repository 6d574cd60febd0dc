{#-
    The source records of every kind but shop orders (int_identity__order_records, built
    incrementally), in the identity-map vocabulary:
      crm -> customer_no (from CRM, orders and loyalty cards),
      shop_account -> shop_account_id (from orders and web events),
      loyalty_card -> loyalty_card_no, store_transaction -> transaction_id (carded only),
      prospect -> prospect_id.
    seen_at is the earliest moment the record shows the person (for first_seen_at).
    Anonymous store sales are not records of anybody and are left out.
-#}
with

node_customers as (
    select * from {{ ref('int_identity__node_customers') }}
),

crm_customers as (
    select * from {{ ref('stg_crm__customers') }}
),

shop_orders as {{ not_materialized() }} (
    select * from {{ ref('stg_shop__orders') }}
),

loyalty_cards as {{ not_materialized() }} (
    select * from {{ ref('stg_loyalty__cards') }}
),

store_transactions as {{ not_materialized() }} (
    select * from {{ ref('stg_store__transactions') }}
),

prospects as (
    select * from {{ ref('stg_marketing__prospects') }}
),

web_accounts as (
    select * from {{ ref('int_web__account_first_seen') }}
),

crm_keys as (
    select
        customer_no,
        case
            when signup_date is not null and cast(signup_date as {{ dbt.type_timestamp() }}) < updated_at
                then cast(signup_date as {{ dbt.type_timestamp() }})
            else updated_at
        end as seen_at
    from crm_customers
    union all
    select
        customer_no,
        cast(null as {{ dbt.type_timestamp() }}) as seen_at
    from shop_orders
    where customer_no is not null
    union all
    select
        customer_no,
        cast(null as {{ dbt.type_timestamp() }}) as seen_at
    from loyalty_cards
),

crm_records as (
    select
        'crm' as source_system,
        customer_no as source_key,
        {{ dbt.concat(["'crm:'", 'customer_no']) }} as node_key,
        min(seen_at) as seen_at
    from crm_keys
    group by customer_no
),

account_keys as (
    select
        shop_account_id,
        ordered_at as seen_at
    from shop_orders
    where shop_account_id is not null
    union all
    select
        shop_account_id,
        first_event_at as seen_at
    from web_accounts
),

account_records as (
    select
        'shop_account' as source_system,
        shop_account_id as source_key,
        {{ dbt.concat(["'account:'", 'shop_account_id']) }} as node_key,
        min(seen_at) as seen_at
    from account_keys
    group by shop_account_id
),

card_keys as (
    select
        loyalty_card_no,
        issued_at as seen_at
    from loyalty_cards
    union all
    select
        loyalty_card_no,
        cast(null as {{ dbt.type_timestamp() }}) as seen_at
    from store_transactions
    where loyalty_card_no is not null
),

card_records as (
    select
        'loyalty_card' as source_system,
        loyalty_card_no as source_key,
        {{ dbt.concat(["'card:'", 'loyalty_card_no']) }} as node_key,
        min(seen_at) as seen_at
    from card_keys
    group by loyalty_card_no
),

store_records as (
    select
        'store_transaction' as source_system,
        transaction_id as source_key,
        {{ dbt.concat(["'card:'", 'loyalty_card_no']) }} as node_key,
        transacted_at as seen_at
    from store_transactions
    where loyalty_card_no is not null
),

prospect_records as (
    select
        'prospect' as source_system,
        prospect_id as source_key,
        {{ dbt.concat(["'prospect:'", 'prospect_id']) }} as node_key,
        created_at as seen_at
    from prospects
),

all_records as (
    select * from crm_records
    union all
    select * from account_records
    union all
    select * from card_records
    union all
    select * from store_records
    union all
    select * from prospect_records
),

final as (
    select
        all_records.source_system,
        all_records.source_key,
        all_records.node_key,
        node_customers.customer_id,
        all_records.seen_at
    from all_records
    inner join node_customers
        on node_customers.node_key = all_records.node_key
)

select * from final
