{#- The body of our delete-then-insert incremental strategies (`source_files`, `customer_days`,
    `changed_orders`, `changed_sales`): delete the target's rows that `where` selects (none when
    `where` is none), then insert the new rows, in the model's transaction. Portable SQL; Spark
    would overwrite partitions. -#}
{% macro delete_then_insert(arg_dict, where) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set columns = arg_dict['dest_columns'] | map(attribute='quoted') | join(', ') -%}
    {%- if where is not none %}
    delete from {{ target }} where {{ where }};
    {%- endif %}
    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ arg_dict['temp_relation'] }}
{%- endmacro %}
