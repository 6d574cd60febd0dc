{#- The identity keys that attribute an event to a customer: every non-ambiguous key of a known
    customer (one with at least one source record). Web events are matched to these by shop
    account, else by e-mail; they never create customers nor link keys. Small (one row per key),
    so the events join it as a lookup instead of carrying a copy of every event. -#}
with

nodes as (
    select * from {{ ref('int_identity__nodes') }}
),

node_customers as (
    select * from {{ ref('int_identity__node_customers') }}
),

source_records as (
    select * from {{ ref('int_identity__source_records') }}
),

known_customers as (
    select distinct customer_id from source_records
),

final as (
    select
        node_customers.node_key,
        node_customers.customer_id
    from node_customers
    inner join nodes
        on nodes.node_key = node_customers.node_key
    inner join known_customers
        on known_customers.customer_id = node_customers.customer_id
    where not nodes.is_ambiguous
)

select * from final
