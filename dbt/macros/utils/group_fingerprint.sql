{#- An order-independent fingerprint of a group's rows: the sum of a 64-bit hash of each row's
    `columns`. Two groups with the same rows (as a multiset) have the same fingerprint; any row
    added, removed or changed gives another one, but for a hash collision. Engine-specific hash
    functions, hence behind adapter.dispatch. (One row's fingerprint, for telling duplicates
    apart, is `row_fingerprint` in quarantine_helpers.sql.) -#}
{% macro group_fingerprint(columns) -%}
    {{ return(adapter.dispatch('group_fingerprint', 'segmentwerk')(columns)) }}
{%- endmacro %}

{#- Spark: xxhash64 is a signed 64-bit hash; summed as decimal, it cannot overflow. -#}
{% macro default__group_fingerprint(columns) -%}
    sum(cast(xxhash64({{ columns | join(', ') }}) as decimal(38, 0)))
{%- endmacro %}

{#- DuckDB: hash() is an unsigned 64-bit hash; its sum is a HUGEINT. -#}
{% macro duckdb__group_fingerprint(columns) -%}
    sum(hash({{ columns | join(', ') }}))
{%- endmacro %}
