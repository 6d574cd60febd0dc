with

base as (
    select * from {{ ref('base_store__transactions') }}
),

final as (
    select
        transaction_id,
        transacted_at,
        store_id,
        loyalty_card_no,
        amount_original,
        currency,
        fx_rate,
        amount,
        is_return,
        source_file,
        source_line
    from base
    where quarantine_reason is null
)

select * from final
