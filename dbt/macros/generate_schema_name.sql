{#- Custom schemas are used as they are (`staging`, `intermediate`, `marts`, `audit`),
    not prefixed with the target schema: BI tools and the publication step rely on the names. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
