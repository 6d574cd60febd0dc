{#-
    Direct associations between identity keys, one row per distinct undirected pair
    (node_a < node_b). Node keys: crm:<customer_no>, account:<shop_account_id>,
    card:<loyalty_card_no>, email:<normalized e-mail>, prospect:<prospect_id>.
      crm - email     every CRM row (the update history: all e-mails a customer ever had)
      card - crm      loyalty cards
      order keys      customer_no, shop_account_id, e-mail of one shop order, pairwise
      prospect - email
    Orders are reduced to their distinct key triples first: no per-order rows in the graph.
-#}
with

crm_customers as (
    select * from {{ ref('stg_crm__customers') }}
),

loyalty_cards as (
    select * from {{ ref('stg_loyalty__cards') }}
),

shop_orders as (
    select * from {{ ref('stg_shop__orders') }}
),

prospects as (
    select * from {{ ref('stg_marketing__prospects') }}
),

order_key_triples as (
    select distinct
        case when customer_no is not null then {{ dbt.concat(["'crm:'", 'customer_no']) }} end as crm_node,
        case when shop_account_id is not null then {{ dbt.concat(["'account:'", 'shop_account_id']) }} end as account_node,
        case when email_normalized is not null then {{ dbt.concat(["'email:'", 'email_normalized']) }} end as email_node
    from shop_orders
),

pairs as (
    select
        {{ dbt.concat(["'crm:'", 'customer_no']) }} as node_x,
        {{ dbt.concat(["'email:'", 'email_normalized']) }} as node_y,
        'crm_customers' as link_source
    from crm_customers
    where email_normalized is not null

    union all

    select
        {{ dbt.concat(["'card:'", 'loyalty_card_no']) }} as node_x,
        {{ dbt.concat(["'crm:'", 'customer_no']) }} as node_y,
        'loyalty_cards' as link_source
    from loyalty_cards

    union all

    select crm_node as node_x, account_node as node_y, 'shop_orders' as link_source
    from order_key_triples
    where crm_node is not null and account_node is not null

    union all

    select crm_node as node_x, email_node as node_y, 'shop_orders' as link_source
    from order_key_triples
    where crm_node is not null and email_node is not null

    union all

    select account_node as node_x, email_node as node_y, 'shop_orders' as link_source
    from order_key_triples
    where account_node is not null and email_node is not null

    union all

    select
        {{ dbt.concat(["'prospect:'", 'prospect_id']) }} as node_x,
        {{ dbt.concat(["'email:'", 'email_normalized']) }} as node_y,
        'prospects' as link_source
    from prospects
    where email_normalized is not null
),

final as (
    select
        case when node_x < node_y then node_x else node_y end as node_a,
        case when node_x < node_y then node_y else node_x end as node_b,
        min(link_source) as link_source
    from pairs
    where node_x <> node_y
    group by 1, 2
)

select * from final
