{#-
    Every identity key (graph node) with its direct CRM associations.
    A non-CRM key directly associated with more than one CRM customer number (a household
    e-mail, a shared account or card) is ambiguous: it is never used to link anything.
    `order:<order_id>` nodes exist only for shop orders that carry no key at all. Shop accounts
    seen only in web events are nodes (customers of their own); web events link nothing.
-#}
with

links as {{ not_materialized() }} (
    select * from {{ ref('int_identity__links') }}
),

crm_customers as (
    select * from {{ ref('stg_crm__customers') }}
),

loyalty_cards as (
    select * from {{ ref('stg_loyalty__cards') }}
),

shop_orders as {{ not_materialized() }} (
    select * from {{ ref('stg_shop__orders') }}
),

store_transactions as (
    select * from {{ ref('stg_store__transactions') }}
),

prospects as (
    select * from {{ ref('stg_marketing__prospects') }}
),

web_accounts as (
    select * from {{ ref('int_web__account_first_seen') }}
),

{#- Each kind of key is made distinct on its raw value before the prefix is added: the raw ids
    are short enough for DuckDB to hash inline, and one distinct over the 80M prefixed keys of
    every source (33M of them web counts) took 9 of the model's 10 s at a million customers. -#}
all_keys as (
    select node_a as node_key from links
    union
    select node_b as node_key from links
    union
    select {{ dbt.concat(["'crm:'", 'customer_no']) }} as node_key from (
        select customer_no from crm_customers
        union
        select customer_no from shop_orders where customer_no is not null
        union
        select customer_no from loyalty_cards
    ) as crm_numbers
    union
    select {{ dbt.concat(["'account:'", 'shop_account_id']) }} as node_key from (
        select shop_account_id from shop_orders where shop_account_id is not null
        union
        select shop_account_id from web_accounts
    ) as shop_accounts
    union
    select {{ dbt.concat(["'email:'", 'email_normalized']) }} as node_key from (
        select distinct email_normalized from shop_orders where email_normalized is not null
    ) as order_emails
    union
    select {{ dbt.concat(["'card:'", 'loyalty_card_no']) }} as node_key from (
        select loyalty_card_no from loyalty_cards
        union
        select loyalty_card_no from store_transactions where loyalty_card_no is not null
    ) as card_numbers
    union
    select {{ dbt.concat(["'prospect:'", 'prospect_id']) }} as node_key from prospects
),

crm_links as (
    select node_b as node_key, node_a as crm_key from links
    where node_a like 'crm:%' and node_b not like 'crm:%'
    union all
    select node_a as node_key, node_b as crm_key from links
    where node_b like 'crm:%' and node_a not like 'crm:%'
),

direct_crm as (
    select
        node_key,
        count(distinct crm_key) as direct_crm_count,
        min(crm_key) as min_crm_key
    from crm_links
    group by node_key
),

key_nodes as (
    select
        all_keys.node_key,
        substring(all_keys.node_key, 1, {{ dbt.position("':'", 'all_keys.node_key') }} - 1) as node_type,
        coalesce(direct_crm.direct_crm_count, 0) as direct_crm_count,
        case when direct_crm.direct_crm_count = 1 then direct_crm.min_crm_key end as direct_crm_key,
        coalesce(direct_crm.direct_crm_count, 0) > 1 as is_ambiguous
    from all_keys
    left join direct_crm
        on direct_crm.node_key = all_keys.node_key
),

{#- An order that carries no key at all is a customer of its own. -#}
keyless_orders as (
    select
        {{ dbt.concat(["'order:'", 'order_id']) }} as node_key,
        'order' as node_type,
        0 as direct_crm_count,
        cast(null as {{ dbt.type_string() }}) as direct_crm_key,
        false as is_ambiguous
    from shop_orders
    where customer_no is null
        and shop_account_id is null
        and email_normalized is null
),

final as (
    select * from key_nodes
    union all
    select * from keyless_orders
)

select * from final
