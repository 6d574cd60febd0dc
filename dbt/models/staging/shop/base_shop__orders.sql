{#- Incremental by landing file (macros/landing/incremental_landing.sql); a late or corrected
    fx rate re-reads the files whose orders it converts. -#}
{{ landing_incremental_config() }}

{%- set columns = [
    'order_id', 'ordered_at', 'customer_no', 'shop_account_id', 'email',
    'channel', 'device', 'amount', 'currency', 'status'
] -%}
{%- set load = landing_load(source('landing', 'shop_orders'), recheck=files_with_changed_fx_rates('ordered_at')) -%}

with

landing as {{ not_materialized() }} (
    {{ read_landing(source('landing', 'shop_orders'), columns, only_files=load.files) }}
),

fx_rates as (
    select * from {{ ref('stg_finance__fx_rates') }}
),

parsed as (
    select
        source_file,
        source_line,
        {{ raw_landing_columns(columns) }}
        {{ clean_string('order_id') }} as order_id,
        {{ parse_timestamp('ordered_at') }} as ordered_at,
        {{ clean_string('customer_no') }} as customer_no,
        {{ clean_string('shop_account_id') }} as shop_account_id,
        {{ normalize_email('email') }} as email_normalized,
        {{ clean_lower('channel') }} as channel,
        {{ clean_lower('device') }} as device,
        {{ parse_amount('amount') }} as amount_original,
        {{ clean_upper('currency') }} as currency,
        coalesce({{ clean_lower('status') }}, 'completed') as status
    from landing
),

{{ convert_to_reporting('parsed', 'ordered_at') }},

checked as (
    select
        *,
        cast(round(amount_original * fx_rate, 2) as decimal(18, 2)) as amount,
        case
            {{ landing_check() }}
            {{ required_check('order_id') }}
            {{ required_check('ordered_at', 'ordered_at', 'timestamp') }}
            {{ timestamp_range_check('ordered_at') }}
            {{ required_check('amount', 'amount_original', 'amount') }}
            {{ required_check('currency') }}
            when length(currency) <> 3 then 'invalid value: currency'
            when status not in ('completed', 'cancelled', 'returned') then 'invalid value: status'
            when amount_original < 0 then 'negative amount'
            {{ fx_checks() }}
        end as row_reason
    from converted
),

duplicates as (
    {{ duplicate_decisions('checked', ['order_id'], [
            'ordered_at', 'customer_no', 'shop_account_id', 'email_normalized', 'channel',
            'device', 'amount_original', 'currency', 'status'
        ], load=load) }}
),

deduplicated as (
    {{ apply_duplicate_decisions('checked', 'duplicates') }}
),

final as (
    select
        'shop_orders' as source_table,
        source_file,
        source_line,
        landing_file_version,
        {{ loaded_at() }} as loaded_at,
        order_id,
        ordered_at,
        customer_no,
        shop_account_id,
        email_normalized,
        channel,
        device,
        amount_original,
        currency,
        fx_rate,
        amount,
        status,
        quarantine_reason,
        {{ quarantine_record(columns, personal=['email']) }} as quarantine_record
    from deduplicated
),

result as (
    {{ landing_model_result('final', 'duplicates', load, columns, renamed={'email': 'email_normalized', 'amount': 'amount_original'},
        personal=['email']) }}
)

select * from result
