with

base as (
    select * from {{ ref('base_privacy__erasure_requests') }}
),

final as (
    select
        {{ dbt.hash(dbt.concat([
            "coalesce(customer_no, '')", "'|'", "coalesce(email_normalized, '')", "'|'",
            dbt.cast('requested_at', dbt.type_string())
        ])) }} as erasure_request_id,
        customer_no,
        email_normalized,
        requested_at,
        source_file,
        source_line
    from base
    where quarantine_reason is null
)

select * from final
