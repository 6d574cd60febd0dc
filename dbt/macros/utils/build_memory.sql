{#- The memory of an incremental model that rebuilds what changed since its last build
    (int_identity__order_records, fct_orders): tables `<model>__built_<kind>` of what it was
    built from, and `<model>__built`, one row: `rules_version` (the model's SQL checksum) and
    `built_at` (the build's start: the `loaded_at` of the rows that build loaded and the
    `decided_at` of what it decided, so later ones are after it). Always in `intermediate`:
    the memories hold identity keys, personal data that never goes to a published schema. -#}

{% macro build_memory(kind=none) -%}
    {{ return(api.Relation.create(
        database=this.database, schema='intermediate',
        identifier=this.identifier ~ '__built' ~ ('_' ~ kind if kind else '')
    )) }}
{%- endmacro %}

{#- {'full': true} for a first or full build, a missing memory (`kinds`: the model's memory
    tables besides `__built`) or another version of the SQL; else {'full': false, 'built_at':
    the last build's start}. Call it from the model and again from its strategy, before the
    post-hook renews the memory, so both see the same answer. -#}
{% macro changes_since_last_build(kinds) -%}
    {%- set plan = {'full': true, 'built_at': none} -%}
    {#- a unit test has no `this`: it builds from its given rows -#}
    {%- if execute and this is not none and is_incremental() -%}
        {%- set ns = namespace(missing=load_relation(segmentwerk.build_memory()) is none) -%}
        {%- for kind in kinds -%}
            {%- if load_relation(segmentwerk.build_memory(kind)) is none -%}{%- set ns.missing = true -%}{%- endif -%}
        {%- endfor -%}
        {%- if not ns.missing -%}
            {%- set rows = run_query(
                "select cast(max(built_at) as " ~ dbt.type_string() ~ ") from " ~ segmentwerk.build_memory()
                ~ " where rules_version = '" ~ segmentwerk.model_rules_version() ~ "'"
            ).rows -%}
            {%- if rows and rows[0][0] is not none -%}
                {%- do plan.update({'full': false, 'built_at': rows[0][0]}) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
    {{ return(plan) }}
{%- endmacro %}

{#- Post-hook part: remember this build's rules and start. -#}
{% macro remember_build() -%}
    create or replace table {{ segmentwerk.build_memory() }} as
    select
        '{{ segmentwerk.model_rules_version() }}' as rules_version,
        {{ loaded_at() }} as built_at
{%- endmacro %}

{#- The `key`s whose row differs between `current` and `remembered` (a memory of it): rows
    that appeared, left, or changed in any of `columns` (null-safe). A select of one column,
    `key`. -#}
{% macro changed_since_memory(current, remembered, key, columns) -%}
    select coalesce({{ current }}.{{ key }}, {{ remembered }}.{{ key }}) as {{ key }}
    from {{ current }}
    full outer join {{ remembered }}
        on {{ remembered }}.{{ key }} = {{ current }}.{{ key }}
    where {{ current }}.{{ key }} is null
        or {{ remembered }}.{{ key }} is null
        {%- for column in columns %}
        or {{ current }}.{{ column }} is distinct from {{ remembered }}.{{ column }}
        {%- endfor %}
{%- endmacro %}
