{%- set columns = ['currency', 'rate_date', 'rate_to_reporting'] -%}

with

landing as {{ not_materialized() }} (
    {{ read_landing(source('landing', 'fx_rates'), columns) }}
),

parsed as (
    select
        source_file,
        source_line,
        {{ raw_landing_columns(columns) }}
        {{ clean_upper('currency') }} as currency,
        {{ parse_date('rate_date') }} as rate_date,
        try_cast({{ clean_string('rate_to_reporting') }} as decimal(18, 8)) as rate_to_reporting
    from landing
),

checked as (
    select
        *,
        case
            {{ landing_check() }}
            {{ required_check('currency') }}
            when length(currency) <> 3 then 'invalid value: currency'
            {{ required_check('rate_date', 'rate_date', 'date') }}
            {{ required_check('rate_to_reporting', 'rate_to_reporting', 'number') }}
            when rate_to_reporting <= 0 then 'invalid value: rate_to_reporting'
        end as row_reason
    from parsed
),

deduplicated as (
    {{ deduplicate('checked', ['currency', 'rate_date'], ['rate_to_reporting']) }}
),

final as (
    select
        'fx_rates' as source_table,
        source_file,
        source_line,
        landing_file_version,
        {{ loaded_at() }} as loaded_at,
        currency,
        rate_date,
        rate_to_reporting,
        quarantine_reason,
        {{ quarantine_record(columns) }} as quarantine_record
    from deduplicated
)

select * from final
