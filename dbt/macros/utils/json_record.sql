{#- A JSON object text built from (key, sql expression) pairs: the raw row of a quarantined record.
    Engine-specific, hence behind adapter.dispatch. -#}
{% macro json_record(pairs) -%}
    {{ return(adapter.dispatch('json_record', 'segmentwerk')(pairs)) }}
{%- endmacro %}

{% macro default__json_record(pairs) -%}
    to_json(named_struct(
        {%- for key, expr in pairs %}
        '{{ key }}', {{ expr }}{{ "," if not loop.last }}
        {%- endfor %}
    ))
{%- endmacro %}

{% macro duckdb__json_record(pairs) -%}
    cast(json_object(
        {%- for key, expr in pairs %}
        '{{ key }}', {{ expr }}{{ "," if not loop.last }}
        {%- endfor %}
    ) as varchar)
{%- endmacro %}
