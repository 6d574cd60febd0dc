{#- One row per accepted web/app event; customer_id null when the event's account or e-mail
    belongs to no known customer. No personal data (the e-mail stays internal). -#}
with

web_events as (
    select * from {{ ref('stg_web__events') }}
),

event_customers as (
    select * from {{ ref('int_identity__web_event_customers') }}
),

final as (
    select
        web_events.event_id,
        event_customers.customer_id,
        web_events.occurred_at,
        web_events.event_type,
        web_events.device,
        web_events.os,
        web_events.shop_account_id is not null as is_logged_in,
        web_events.source_file
    from web_events
    inner join event_customers
        on event_customers.event_id = web_events.event_id
)

select * from final
