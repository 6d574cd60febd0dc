{#- A view like the other event stagings; the line id is the order id and the line's key in
    it (`order_line_key`: line_no, else file:line), so no window over every line is needed. -#}
{{ config(materialized='view') }}

with

base as (
    select * from {{ ref('base_shop__order_lines') }}
),

final as (
    select
        {{ dbt.concat(['order_id', "'#'", order_line_key()]) }} as order_line_id,
        order_id,
        line_no,
        product_id,
        category,
        quantity,
        unit_price,
        source_file,
        source_line,
        loaded_at
    from base
    where quarantine_reason is null
)

select * from final
