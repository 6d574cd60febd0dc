with

base as (
    select * from {{ ref('base_web__events') }}
),

final as (
    select
        event_id,
        occurred_at,
        shop_account_id,
        email_normalized,
        event_type,
        device,
        os,
        source_file,
        source_line
    from base
    where quarantine_reason is null
)

select * from final
