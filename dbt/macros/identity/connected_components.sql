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

    The work tables live beside the model (`<model>__cc_*`); call
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
    {%- do run_query(get_create_table_as_sql(False, edge_table,
        "select node_a as src, node_b as dst from " ~ edges ~ " where node_a <> node_b"
        ~ " union "
        ~ "select node_b as src, node_a as dst from " ~ edges ~ " where node_a <> node_b"
    )) -%}

    {%- set state = namespace(previous=segmentwerk.cc_work_relation('round_0'), done=false, rounds=0) -%}
    {%- do adapter.drop_relation(state.previous) -%}
    {%- do run_query(get_create_table_as_sql(False, state.previous,
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
            {%- do run_query(get_create_table_as_sql(False, current, round_sql)) -%}
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
    {{ return(api.Relation.create(
        database=this.database, schema=this.schema,
        identifier=this.identifier ~ '__cc_' ~ suffix, type='table'
    )) }}
{%- endmacro %}

{#- post_hook: drop the work tables a connected_components() call left behind. -#}
{% macro drop_connected_components_work(relation) -%}
    {%- if execute -%}
        {%- set schema_relation = api.Relation.create(database=relation.database, schema=relation.schema) -%}
        {%- set prefix = (relation.identifier ~ '__cc_') | lower -%}
        {%- for row in list_relations_without_caching(schema_relation) -%}
            {%- if (row['name'] | lower).startswith(prefix) -%}
                {%- do adapter.drop_relation(api.Relation.create(
                    database=relation.database, schema=relation.schema,
                    identifier=row['name'], type='table'
                )) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    select 1
{%- endmacro %}
