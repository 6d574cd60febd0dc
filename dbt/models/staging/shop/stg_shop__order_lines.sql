with

base as (
    select * from {{ ref('base_shop__order_lines') }}
),

final as (
    select
        {{ dbt.concat([
            'order_id', "'#'",
            dbt.cast('coalesce(line_no, row_number() over (partition by order_id order by source_file, source_line))', dbt.type_string())
        ]) }} as order_line_id,
        order_id,
        line_no,
        product_id,
        category,
        quantity,
        unit_price,
        source_file,
        source_line
    from base
    where quarantine_reason is null
)

select * from final
