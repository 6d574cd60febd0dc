with

base as (
    select * from {{ ref('base_loyalty__cards') }}
),

final as (
    select
        loyalty_card_no,
        customer_no,
        issued_at,
        source_file,
        source_line
    from base
    where quarantine_reason is null
)

select * from final
