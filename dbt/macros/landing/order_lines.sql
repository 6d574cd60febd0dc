{#- The key of an order line within its order: `line_no` when the drop carries one, else the
    line's place in the landing zone (file and line), which is unique and never changes. -#}
{% macro order_line_key() -%}
    coalesce(
        {{ dbt.cast('line_no', dbt.type_string()) }},
        {{ dbt.concat(["source_file", "':'", dbt.cast('source_line', dbt.type_string())]) }}
    )
{%- endmacro %}

{#- For the incremental `base_shop__order_lines` (see incremental_landing.sql, `recheck`): the
    files holding a line whose order was accepted at its load and is not any more, or the
    other way round (the order arrived in a later file). -#}
{% macro files_with_changed_orders() -%}
    select distinct lines.source_file
    from {{ this }} as lines
    left join {{ ref('stg_shop__orders') }} as orders
        on orders.order_id = lines.order_id
    where lines.order_id is not null
        and (
            (orders.order_id is null and {{ passed_own_checks('lines.quarantine_reason') }})
            or (
                orders.order_id is not null
                and lines.quarantine_reason = 'order_id not among accepted shop orders'
            )
        )
{%- endmacro %}
