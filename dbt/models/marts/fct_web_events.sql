{#- One row per accepted web/app event; customer_id null when the event's account or e-mail
    belongs to no known customer (the account wins over the e-mail). No personal data (the
    e-mail stays internal). -#}
with

web_events as (
    select * from {{ ref('stg_web__events') }}
),

identified_keys as (
    select * from {{ ref('int_identity__identified_keys') }}
),

final as (
    select
        web_events.event_id,
        coalesce(by_account.customer_id, by_email.customer_id) as customer_id,
        web_events.occurred_at,
        web_events.event_type,
        web_events.device,
        web_events.os,
        web_events.shop_account_id is not null as is_logged_in,
        web_events.source_file
    from web_events
    left join identified_keys as by_account
        on by_account.node_key = {{ dbt.concat(["'account:'", 'web_events.shop_account_id']) }}
    left join identified_keys as by_email
        on by_email.node_key = {{ dbt.concat(["'email:'", 'web_events.email_normalized']) }}
)

select * from final
