{#- on-run-start: drop the tables of models that left the project. dbt never drops a table
    whose model is gone, and a leftover table in `marts` would stay in every publication (the
    publication copies the whole schema) and in every erasure scan - stale, and at a million
    customers the largest table of all. Add a model here when you delete it. Only `dbt run` and
    `dbt build` drop; compiling does not. -#}
{% macro drop_retired_models() -%}
    {#- fct_web_events: replaced by fct_web_activity (daily grain);
        int_identity__shop_order_nodes: replaced by int_identity__order_records -#}
    {%- set retired = [
        ('marts', 'fct_web_events'),
        ('intermediate', 'int_identity__shop_order_nodes'),
    ] -%}
    {%- if execute and flags.WHICH in ('run', 'build') -%}
        {%- for schema, identifier in retired -%}
            {%- set relation = adapter.get_relation(
                database=target.database, schema=schema, identifier=identifier
            ) -%}
            {%- if relation is not none -%}
                {%- do log('dropping ' ~ relation ~ ': its model was retired', info=true) -%}
                {%- do adapter.drop_relation(relation) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    select 1
{%- endmacro %}
