{%- set columns = [
    'customer_no', 'first_name', 'last_name', 'email', 'phone', 'birth_date', 'gender',
    'street', 'postal_code', 'city', 'country', 'signup_date', 'marketing_opt_in',
    'contract_end_date', 'updated_at'
] -%}

with

landing as {{ not_materialized() }} (
    {{ read_landing(source('landing', 'crm_customers'), columns) }}
),

parsed as (
    select
        source_file,
        source_line,
        {{ raw_landing_columns(columns) }}
        {{ clean_string('customer_no') }} as customer_no,
        {{ clean_string('first_name') }} as first_name,
        {{ clean_string('last_name') }} as last_name,
        {{ normalize_email('email') }} as email_normalized,
        {{ clean_string('phone') }} as phone,
        {{ parse_date('birth_date') }} as birth_date,
        {{ clean_lower('gender') }} as gender,
        {{ clean_string('street') }} as street,
        {{ clean_upper('postal_code') }} as postal_code,
        {{ clean_string('city') }} as city,
        case when length(trim(country)) = 2 then upper(trim(country)) end as country,
        {{ parse_date('signup_date') }} as signup_date,
        {{ parse_boolean('marketing_opt_in') }} as marketing_opt_in,
        {{ parse_date('contract_end_date') }} as contract_end_date,
        {{ parse_timestamp('updated_at') }} as updated_at
    from landing
),

checked as (
    select
        *,
        case
            {{ landing_check() }}
            {{ required_check('customer_no') }}
            {{ required_check('updated_at', 'updated_at', 'timestamp') }}
            {{ timestamp_range_check('updated_at') }}
        end as row_reason
    from parsed
),

deduplicated as (
    {{ deduplicate('checked', ['customer_no', 'updated_at'], [
            'first_name', 'last_name', 'email_normalized', 'phone', 'birth_date', 'gender',
            'street', 'postal_code', 'city', 'country', 'signup_date', 'marketing_opt_in',
            'contract_end_date'
        ]) }}
),

final as (
    select
        'crm_customers' as source_table,
        source_file,
        source_line,
        landing_file_version,
        {{ loaded_at() }} as loaded_at,
        customer_no,
        first_name,
        last_name,
        email_normalized,
        phone,
        birth_date,
        gender,
        street,
        postal_code,
        city,
        country,
        signup_date,
        marketing_opt_in,
        contract_end_date,
        updated_at,
        quarantine_reason,
        {{ quarantine_record(columns, personal=[
            'first_name', 'last_name', 'email', 'phone', 'birth_date', 'street'
        ]) }} as quarantine_record
    from deduplicated
)

select * from final
