{#- Incremental by landing file (macros/landing/incremental_landing.sql): a month's build
    parses that month's events, not the whole history. -#}
{{ landing_incremental_config() }}

{%- set columns = [
    'event_id', 'occurred_at', 'shop_account_id', 'email', 'event_type', 'device', 'os'
] -%}
{%- set load = landing_load(source('landing', 'web_events')) -%}

with

landing as {{ not_materialized() }} (
    {{ read_landing(source('landing', 'web_events'), columns, only_files=load.files) }}
),

parsed as (
    select
        source_file,
        source_line,
        {{ raw_landing_columns(columns) }}
        {{ clean_string('event_id') }} as event_id,
        {{ parse_timestamp('occurred_at') }} as occurred_at,
        {{ clean_string('shop_account_id') }} as shop_account_id,
        {{ normalize_email('email') }} as email_normalized,
        {{ clean_lower('event_type') }} as event_type,
        {{ clean_lower('device') }} as device,
        {{ clean_lower('os') }} as os
    from landing
),

checked as (
    select
        *,
        case
            {{ landing_check() }}
            {{ required_check('event_id') }}
            {{ required_check('occurred_at', 'occurred_at', 'timestamp') }}
            {{ timestamp_range_check('occurred_at') }}
            {{ required_check('event_type') }}
            when event_type not in (
                'session', 'product_view', 'add_to_cart', 'cart_abandoned',
                'newsletter_open', 'newsletter_click'
            ) then 'invalid value: event_type'
        end as row_reason
    from parsed
),

duplicates as (
    {{ duplicate_decisions('checked', ['event_id'], [
            'occurred_at', 'shop_account_id', 'email_normalized', 'event_type', 'device', 'os'
        ], load=load) }}
),

deduplicated as (
    {{ apply_duplicate_decisions('checked', 'duplicates') }}
),

final as (
    select
        'web_events' as source_table,
        source_file,
        source_line,
        landing_file_version,
        {{ loaded_at() }} as loaded_at,
        event_id,
        occurred_at,
        shop_account_id,
        email_normalized,
        event_type,
        device,
        os,
        quarantine_reason,
        {{ quarantine_record(columns, personal=['email']) }} as quarantine_record
    from deduplicated
),

result as (
    {{ landing_model_result('final', 'duplicates', load, columns, renamed={'email': 'email_normalized'}, personal=['email']) }}
)

select * from result
