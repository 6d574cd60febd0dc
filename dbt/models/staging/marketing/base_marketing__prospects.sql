{%- set columns = [
    'prospect_id', 'email', 'postal_code', 'country', 'birth_year', 'source', 'created_at'
] -%}

with

landing as {{ not_materialized() }} (
    {{ read_landing(source('landing', 'prospects'), columns) }}
),

parsed as (
    select
        source_file,
        source_line,
        {{ raw_landing_columns(columns) }}
        {{ clean_string('prospect_id') }} as prospect_id,
        {{ normalize_email('email') }} as email_normalized,
        {{ clean_upper('postal_code') }} as postal_code,
        case when length(trim(country)) = 2 then upper(trim(country)) end as country,
        case
            when try_cast({{ clean_string('birth_year') }} as integer) between 1900 and 2100
                then try_cast({{ clean_string('birth_year') }} as integer)
        end as birth_year,
        {{ clean_lower('source') }} as prospect_source,
        {{ parse_timestamp('created_at') }} as created_at
    from landing
),

checked as (
    select
        *,
        case
            {{ landing_check() }}
            {{ required_check('prospect_id') }}
            {{ required_check('created_at', 'created_at', 'timestamp') }}
            {{ timestamp_range_check('created_at') }}
        end as row_reason
    from parsed
),

deduplicated as (
    {{ deduplicate('checked', ['prospect_id'], [
            'email_normalized', 'postal_code', 'country', 'birth_year', 'prospect_source', 'created_at'
        ]) }}
),

final as (
    select
        'prospects' as source_table,
        source_file,
        source_line,
        landing_file_version,
        {{ loaded_at() }} as loaded_at,
        prospect_id,
        email_normalized,
        postal_code,
        country,
        birth_year,
        prospect_source,
        created_at,
        quarantine_reason,
        {{ quarantine_record(columns, personal=['email']) }} as quarantine_record
    from deduplicated
)

select * from final
