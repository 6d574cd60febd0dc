with

base as (
    select * from {{ ref('base_marketing__prospects') }}
),

final as (
    select
        prospect_id,
        email_normalized,
        postal_code,
        country,
        birth_year,
        prospect_source,
        created_at,
        source_file,
        source_line
    from base
    where quarantine_reason is null
)

select * from final
