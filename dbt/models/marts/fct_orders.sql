{#- One row per shop order or store transaction; amounts in the reporting currency.
    customer_id is null for anonymous store sales (no loyalty card).

    Incremental (macros/marts/incremental_by_changed_sales.sql): a build rebuilds only the
    orders decided again since its last build, the store sales loaded since and those whose
    card changed its customer. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='changed_sales',
    on_schema_change='sync_all_columns',
    post_hook="{{ remember_sales_inputs(ref('int_identity__node_customers')) }}"
) }}
{%- set plan = segmentwerk.sales_plan() %}
{%- if execute %}
{{- log("changed_sales " ~ this.identifier ~ ": " ~ ("every sale" if plan.full else "orders decided and store sales loaded after " ~ plan.built_at ~ ", sales with a changed card"), info=true) }}
{%- endif %}
with

shop_orders as (
    select * from {{ ref('stg_shop__orders') }}
),

store_transactions as (
    select * from {{ ref('stg_store__transactions') }}
),

order_records as (
    select * from {{ ref('int_identity__order_records') }}
),

node_customers as (
    select * from {{ ref('int_identity__node_customers') }}
),
{%- if not plan.full %}

card_customers as (
    {{ segmentwerk.card_customers('node_customers') }}
),

remembered_cards as (
    select node_key, customer_id from {{ segmentwerk.build_memory('cards') }}
),

changed_card_nodes as (
    {{ segmentwerk.changed_since_memory('card_customers', 'remembered_cards', 'node_key', ['customer_id']) }}
),

{#- Cards whose customer changed, appeared or left; the prefix is cut off the few changed
    cards rather than added to every sale. -#}
changed_cards as (
    select substring(node_key, {{ "card:" | length + 1 }}) as loyalty_card_no
    from changed_card_nodes
),
{%- endif %}

shop as (
    select
        shop_orders.order_id,
        'shop' as source_system,
        order_records.customer_id,
        shop_orders.ordered_at,
        shop_orders.channel,
        shop_orders.device,
        shop_orders.amount,
        shop_orders.status,
        shop_orders.currency,
        shop_orders.amount_original,
        shop_orders.source_file
    from shop_orders
    -- the order records hold each order's customer (its deciding key's)
    inner join order_records
        on order_records.order_id = shop_orders.order_id
        and order_records.customer_id is not null
        {%- if not plan.full %}
        and order_records.decided_at > cast('{{ plan.built_at }}' as {{ dbt.type_timestamp() }})
        {%- endif %}
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
    {%- if not plan.full %}
    where store_transactions.loaded_at > cast('{{ plan.built_at }}' as {{ dbt.type_timestamp() }})
        or store_transactions.loyalty_card_no in (select loyalty_card_no from changed_cards)
    {%- endif %}
),

final as (
    select * from shop
    union all
    select * from store
)

select * from final
