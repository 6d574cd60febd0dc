{%- set columns = ['loyalty_card_no', 'customer_no', 'issued_at'] -%}

with

landing as {{ not_materialized() }} (
    {{ read_landing(source('landing', 'loyalty_cards'), columns) }}
),

parsed as (
    select
        source_file,
        source_line,
        {{ raw_landing_columns(columns) }}
        {{ clean_string('loyalty_card_no') }} as loyalty_card_no,
        {{ clean_string('customer_no') }} as customer_no,
        {{ parse_timestamp('issued_at') }} as issued_at
    from landing
),

checked as (
    select
        *,
        case
            {{ landing_check() }}
            {{ required_check('loyalty_card_no') }}
            {{ required_check('customer_no') }}
            when {{ is_unparsable('raw_issued_at', 'issued_at') }} then 'unparsable timestamp: issued_at'
            {{ timestamp_range_check('issued_at') }}
        end as row_reason
    from parsed
),

deduplicated as (
    {{ deduplicate('checked', ['loyalty_card_no'], ['customer_no', 'issued_at']) }}
),

final as (
    select
        'loyalty_cards' as source_table,
        source_file,
        source_line,
        landing_file_version,
        {{ loaded_at() }} as loaded_at,
        loyalty_card_no,
        customer_no,
        issued_at,
        quarantine_reason,
        {{ quarantine_record(columns) }} as quarantine_record
    from deduplicated
)

select * from final
