{#- Sorted comma list of the systems whose condition holds, e.g. 'crm,loyalty,shop'.
    `systems`: list of (name, sql condition), given in alphabetical order. Portable: no
    array functions, just concatenation and a trim of the trailing comma. -#}
{% macro source_systems_list(systems) -%}
    {%- set parts = [] -%}
    {%- for name, condition in systems -%}
        {%- do parts.append("case when " ~ condition ~ " then '" ~ name ~ ",' else '' end") -%}
    {%- endfor -%}
    {%- set joined = dbt.concat(parts) -%}
    case when {{ joined }} = '' then null
        else substring({{ joined }}, 1, length({{ joined }}) - 1)
    end
{%- endmacro %}
