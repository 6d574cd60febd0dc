{#- Incremental by landing file (macros/landing/incremental_landing.sql); a late or corrected
    fx rate re-reads the files whose sales it converts. -#}
{{ landing_incremental_config() }}

{%- set columns = [
    'transaction_id', 'transacted_at', 'store_id', 'loyalty_card_no', 'amount', 'currency', 'is_return'
] -%}
{%- set load = landing_load(source('landing', 'store_transactions'), recheck=files_with_changed_fx_rates('transacted_at')) -%}

with

landing as {{ not_materialized() }} (
    {{ read_landing(source('landing', 'store_transactions'), columns, only_files=load.files) }}
),

fx_rates as (
    select * from {{ ref('stg_finance__fx_rates') }}
),

parsed as (
    select
        source_file,
        source_line,
        {{ raw_landing_columns(columns) }}
        {{ clean_string('transaction_id') }} as transaction_id,
        {{ parse_timestamp('transacted_at') }} as transacted_at,
        {{ clean_string('store_id') }} as store_id,
        {{ clean_string('loyalty_card_no') }} as loyalty_card_no,
        {{ parse_amount('amount') }} as amount_original,
        {{ clean_upper('currency') }} as currency,
        coalesce({{ parse_boolean('is_return') }}, false) as is_return
    from landing
),

{{ convert_to_reporting('parsed', 'transacted_at') }},

checked as (
    select
        *,
        cast(round(amount_original * fx_rate, 2) as decimal(18, 2)) as amount,
        case
            {{ landing_check() }}
            {{ required_check('transaction_id') }}
            {{ required_check('transacted_at', 'transacted_at', 'timestamp') }}
            {{ timestamp_range_check('transacted_at') }}
            {{ required_check('amount', 'amount_original', 'amount') }}
            {{ required_check('currency') }}
            when length(currency) <> 3 then 'invalid value: currency'
            when {{ is_unparsable('raw_is_return', parse_boolean('raw_is_return')) }}
                then 'unparsable boolean: is_return'
            when amount_original < 0 then 'negative amount'
            {{ fx_checks() }}
        end as row_reason
    from converted
),

duplicates as (
    {{ duplicate_decisions('checked', ['transaction_id'], [
            'transacted_at', 'store_id', 'loyalty_card_no', 'amount_original', 'currency', 'is_return'
        ], load=load) }}
),

deduplicated as (
    {{ apply_duplicate_decisions('checked', 'duplicates') }}
),

final as (
    select
        'store_transactions' as source_table,
        source_file,
        source_line,
        landing_file_version,
        {{ loaded_at() }} as loaded_at,
        transaction_id,
        transacted_at,
        store_id,
        loyalty_card_no,
        amount_original,
        currency,
        fx_rate,
        amount,
        is_return,
        quarantine_reason,
        {{ quarantine_record(columns) }} as quarantine_record
    from deduplicated
),

result as (
    {{ landing_model_result('final', 'duplicates', load, columns, renamed={'amount': 'amount_original'}) }}
)

select * from result
