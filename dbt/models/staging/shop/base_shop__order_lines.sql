{#- Order lines: the contract has no line id (the same product may appear on several lines),
    but an optional extra column `line_no` is used when a drop carries it: then
    (order_id, line_no) is the key and duplicates are checked. A line must belong to an
    accepted shop order. Incremental by landing file (macros/landing/incremental_landing.sql);
    a line whose order was accepted or withdrawn since its load re-reads its file. -#}
{{ landing_incremental_config() }}

{%- set columns = ['order_id', 'line_no', 'product_id', 'category', 'quantity', 'unit_price'] -%}
{%- set load = landing_load(source('landing', 'order_lines'), recheck=files_with_changed_orders()) -%}

with

landing as {{ not_materialized() }} (
    {{ read_landing(source('landing', 'order_lines'), columns, only_files=load.files) }}
),

orders as (
    select * from {{ ref('stg_shop__orders') }}
),

parsed as (
    select
        source_file,
        source_line,
        {{ raw_landing_columns(columns) }}
        {{ clean_string('order_id') }} as order_id,
        try_cast({{ clean_string('line_no') }} as integer) as line_no,
        {{ clean_string('product_id') }} as product_id,
        {{ clean_lower('category') }} as category,
        try_cast({{ clean_string('quantity') }} as integer) as quantity,
        {{ parse_amount('unit_price') }} as unit_price
    from landing
),

checked as (
    select
        parsed.*,
        case
            {{ landing_check() }}
            {{ required_check('order_id') }}
            when {{ is_unparsable('raw_quantity', 'quantity') }} then 'unparsable number: quantity'
            when {{ is_unparsable('raw_unit_price', 'unit_price') }} then 'unparsable amount: unit_price'
            when quantity < 0 then 'invalid value: quantity'
            when unit_price < 0 then 'negative amount'
            when {{ is_unparsable('raw_line_no', 'line_no') }} then 'unparsable number: line_no'
            when orders.order_id is null then 'order_id not among accepted shop orders'
        end as row_reason
    from parsed
    left join orders
        on orders.order_id = parsed.order_id
),

duplicates as (
    {{ duplicate_decisions('checked', ['order_id', order_line_key()],
            ['product_id', 'category', 'quantity', 'unit_price'],
            key_label='order_id, line_no', load=load) }}
),

deduplicated as (
    {{ apply_duplicate_decisions('checked', 'duplicates') }}
),

final as (
    select
        'order_lines' as source_table,
        source_file,
        source_line,
        landing_file_version,
        {{ loaded_at() }} as loaded_at,
        order_id,
        line_no,
        product_id,
        category,
        quantity,
        unit_price,
        quarantine_reason,
        {{ quarantine_record(columns) }} as quarantine_record
    from deduplicated
),

result as (
    {{ landing_model_result('final', 'duplicates', load, columns) }}
)

select * from result
