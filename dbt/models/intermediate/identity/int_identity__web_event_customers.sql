{#- The customer of each web event: by its shop account, else by a non-ambiguous e-mail, when
    that key belongs to a known customer (one with at least one source record). Web events
    never create customers nor link keys. -#}
with

web_events as (
    select * from {{ ref('stg_web__events') }}
),

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

identified_keys as (
    select
        node_customers.node_key,
        node_customers.customer_id
    from node_customers
    inner join nodes
        on nodes.node_key = node_customers.node_key
    inner join known_customers
        on known_customers.customer_id = node_customers.customer_id
    where not nodes.is_ambiguous
),

final as (
    select
        web_events.event_id,
        coalesce(by_account.customer_id, by_email.customer_id) as customer_id
    from web_events
    left join identified_keys as by_account
        on by_account.node_key = {{ dbt.concat(["'account:'", 'web_events.shop_account_id']) }}
    left join identified_keys as by_email
        on by_email.node_key = {{ dbt.concat(["'email:'", 'web_events.email_normalized']) }}
)

select * from final
