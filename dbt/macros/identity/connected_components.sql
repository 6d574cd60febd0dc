{#-
    connected_components(nodes, edges, max_rounds)

    Connected components of an undirected graph, as a loop that runs until nothing changes
    (PORTABLE_SQL rule 5): one work table per round, built with run_query at execute time.

      nodes  relation with a column `node_key` (every node, isolated ones included)
      edges  relation with columns `node_a`, `node_b` (either direction is enough)

    Every node starts labelled with its own key. Each round a node takes the minimum label of
    itself and its neighbours, then jumps once through its label's label (pointer jumping), so
    long chains collapse in O(log n) rounds. When a round changes no label, every node carries
    the smallest node key of its component. Returns a select of (node_key, component_key).

    The work tables are named `<model>__cc_*` and live where `cc_work_in_temp()` says; call
    `drop_connected_components_work(this)` in the model's post_hook to remove them.
-#}
{% macro connected_components(nodes, edges, max_rounds=none) -%}
    {%- set max_rounds = max_rounds or var('identity_max_rounds', 60) -%}
    {%- if not execute -%}
        {{ return("select cast(null as " ~ dbt.type_string() ~ ") as node_key, cast(null as "
                  ~ dbt.type_string() ~ ") as component_key where 1 = 0") }}
    {%- endif -%}

    {%- set edge_table = segmentwerk.cc_work_relation('edges') -%}
    {%- do adapter.drop_relation(edge_table) -%}
    {%- set temporary = segmentwerk.cc_work_in_temp() -%}
    {%- do run_query(get_create_table_as_sql(temporary, edge_table,
        "select node_a as src, node_b as dst from " ~ edges ~ " where node_a <> node_b"
        ~ " union "
        ~ "select node_b as src, node_a as dst from " ~ edges ~ " where node_a <> node_b"
    )) -%}

    {%- set state = namespace(previous=segmentwerk.cc_work_relation('round_0'), done=false, rounds=0) -%}
    {%- do adapter.drop_relation(state.previous) -%}
    {%- do run_query(get_create_table_as_sql(temporary, state.previous,
        "select node_key, node_key as label from " ~ nodes
        ~ " union select src as node_key, src as label from " ~ edge_table
    )) -%}

    {%- for round in range(1, max_rounds + 1) -%}
        {%- if not state.done -%}
            {%- set current = segmentwerk.cc_work_relation('round_' ~ round) -%}
            {%- do adapter.drop_relation(current) -%}
            {%- set round_sql -%}
                with neighbour_min as (
                    select e.src as node_key, min(p.label) as label
                    from {{ edge_table }} as e
                    inner join {{ state.previous }} as p on p.node_key = e.dst
                    group by e.src
                ),
                stepped as (
                    select
                        p.node_key,
                        case when n.label < p.label then n.label else p.label end as label
                    from {{ state.previous }} as p
                    left join neighbour_min as n on n.node_key = p.node_key
                )
                select
                    s.node_key,
                    case when j.label < s.label then j.label else s.label end as label
                from stepped as s
                left join stepped as j on j.node_key = s.label
            {%- endset -%}
            {%- do run_query(get_create_table_as_sql(temporary, current, round_sql)) -%}
            {%- set changed = run_query(
                "select count(*) from " ~ current ~ " as c inner join " ~ state.previous
                ~ " as p on p.node_key = c.node_key where c.label <> p.label"
            ).rows[0][0] -%}
            {%- do adapter.drop_relation(state.previous) -%}
            {%- set state.previous = current -%}
            {%- set state.rounds = round -%}
            {%- if changed == 0 -%}
                {%- set state.done = true -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do adapter.drop_relation(edge_table) -%}
    {%- if not state.done -%}
        {{ exceptions.raise_compiler_error("connected_components did not converge in " ~ max_rounds ~ " rounds") }}
    {%- endif -%}
    {{ log(this.identifier ~ ": connected components converged after " ~ state.rounds ~ " round(s)", info=true) }}
    select node_key, label as component_key from {{ state.previous }}
{%- endmacro %}

{% macro cc_work_relation(suffix) -%}
    {%- set temporary = segmentwerk.cc_work_in_temp() -%}
    {{ return(api.Relation.create(
        database='temp' if temporary else this.database,
        schema='main' if temporary else this.schema,
        identifier=this.identifier ~ '__cc_' ~ suffix, type='table'
    )) }}
{%- endmacro %}

{#- Whether the work tables are temporary tables of the build's connection. DuckDB keeps those
    in memory (spilled under its memory limit): at a million customers the components took
    3.6-4.5 s instead of 7.5-9.0 s with tables written to the database file (7-8 s of CPU
    instead of 14-15 s, the same components). On Spark a temporary table is a view, and a
    chain of views is what rule 5 of PORTABLE_SQL avoids: real tables beside the model. -#}
{% macro cc_work_in_temp() -%}
    {{ return(adapter.dispatch('cc_work_in_temp', 'segmentwerk')()) }}
{%- endmacro %}

{% macro default__cc_work_in_temp() -%}
    {{ return(false) }}
{%- endmacro %}

{% macro duckdb__cc_work_in_temp() -%}
    {{ return(true) }}
{%- endmacro %}

{#- post_hook: drop the work tables a connected_components() call left behind (and any that an
    interrupted build left beside the model before the work moved to temporary tables). -#}
{% macro drop_connected_components_work(relation) -%}
    {%- if execute -%}
        {%- set places = [api.Relation.create(database=relation.database, schema=relation.schema)] -%}
        {%- if segmentwerk.cc_work_in_temp() -%}
            {%- do places.append(api.Relation.create(database='temp', schema='main')) -%}
        {%- endif -%}
        {%- set prefix = (relation.identifier ~ '__cc_') | lower -%}
        {%- for place in places -%}
            {%- for row in list_relations_without_caching(place) -%}
                {%- if (row['name'] | lower).startswith(prefix) -%}
                    {%- do adapter.drop_relation(api.Relation.create(
                        database=place.database, schema=place.schema,
                        identifier=row['name'], type='table'
                    )) -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endif -%}
    select 1
{%- endmacro %}
