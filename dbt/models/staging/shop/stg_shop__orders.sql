{#- A view: the accepted rows of the base table are a filter away, and copying tens of millions
    of events or orders once more cost more than any reader saves. Erasure redacts the base
    rows in place, so this view shows the redaction too. -#}
{{ config(materialized='view') }}

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
        source_line,
        loaded_at
    from base
    where quarantine_reason is null
)

select * from final
