{%- set columns = ['customer_no', 'email', 'requested_at'] -%}

with

landing as {{ not_materialized() }} (
    {{ read_landing(source('landing', 'erasure_requests'), columns) }}
),

parsed as (
    select
        source_file,
        source_line,
        {{ raw_landing_columns(columns) }}
        {{ clean_string('customer_no') }} as customer_no,
        {{ normalize_email('email') }} as email_normalized,
        {{ parse_timestamp('requested_at') }} as requested_at
    from landing
),

checked as (
    select
        *,
        case
            {{ landing_check() }}
            when customer_no is null and email_normalized is null
                then 'missing required field: customer_no or email'
            {{ required_check('requested_at', 'requested_at', 'timestamp') }}
        end as row_reason
    from parsed
),

deduplicated as (
    {{ deduplicate('checked', ["coalesce(customer_no, '')", "coalesce(email_normalized, '')", 'requested_at'],
            ['requested_at'],
            key_label='customer_no, email, requested_at') }}
),

final as (
    select
        'erasure_requests' as source_table,
        source_file,
        source_line,
        landing_file_version,
        {{ loaded_at() }} as loaded_at,
        customer_no,
        email_normalized,
        requested_at,
        quarantine_reason,
        {{ quarantine_record(columns, personal=['email']) }} as quarantine_record
    from deduplicated
)

select * from final
