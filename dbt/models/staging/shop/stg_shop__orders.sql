with

base as (
    select * from {{ ref('base_shop__orders') }}
),

final as (
    select
        order_id,
        ordered_at,
        customer_no,
        shop_account_id,
        email_normalized,
        channel,
        device,
        amount_original,
        currency,
        fx_rate,
        amount,
        status,
        source_file,
        source_line
    from base
    where quarantine_reason is null
)

select * from final
