{#- Written between `<cte> as` and the CTE's body: the engine reads the CTE where it is used
    instead of computing it once into a temporary result.

    DuckDB computes a CTE that a query reads more than once into a temporary result, every
    column of it, before the query runs. For a CTE that only renames a table (an import CTE) or
    reads a landing file, that copy costs more than it saves: inlined, each use reads only the
    columns it needs (the key probe of a landing model reads one column of the file, not all of
    them). Measured at a million customers, the month's 7.6M web events: base_web__events
    10.6-11.0 s -> 8.2-9.3 s wall, 22-23 s -> 16-18 s CPU, the same rows; int_identity__nodes
    3.0-3.6 s -> 2.3-2.5 s. For a CSV file the second read parses the file again, which costs
    about what the copy did (16.7-17.8 s either way). Used only where measured to help: a CTE
    that computes something (a ranking, an aggregate) is better computed once.
    Spark SQL has no such hint: nothing is written there. -#}
{% macro not_materialized() -%}
    {{ return(adapter.dispatch('not_materialized', 'segmentwerk')()) }}
{%- endmacro %}

{% macro default__not_materialized() -%}
{%- endmacro %}

{% macro duckdb__not_materialized() -%}
    not materialized
{%- endmacro %}
