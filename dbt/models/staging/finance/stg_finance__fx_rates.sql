with

base as (
    select * from {{ ref('base_finance__fx_rates') }}
),

final as (
    select
        currency,
        rate_date,
        rate_to_reporting,
        source_file
    from base
    where quarantine_reason is null
)

select * from final
