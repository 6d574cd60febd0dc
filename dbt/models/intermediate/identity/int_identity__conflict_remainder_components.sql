{{ config(post_hook="{{ drop_connected_components_work(this) }}") }}
{#- In a conflict component, the keys without a direct CRM link form customers of their own:
    the components of the graph restricted to those keys. Usually tiny or empty. -#}
with

remainder_components as (
    {{ connected_components(
        nodes="(select c.node_key from " ~ ref('int_identity__components') ~ " as c"
            ~ " inner join " ~ ref('int_identity__nodes') ~ " as n on n.node_key = c.node_key"
            ~ " inner join " ~ ref('int_identity__component_crm_links') ~ " as l on l.component_key = c.component_key"
            ~ " where l.crm_customers > 1 and n.direct_crm_count = 0) as remainder_nodes",
        edges="(select e.node_a, e.node_b from " ~ ref('int_identity__graph_edges') ~ " as e"
            ~ " inner join " ~ ref('int_identity__nodes') ~ " as na on na.node_key = e.node_a"
            ~ " inner join " ~ ref('int_identity__nodes') ~ " as nb on nb.node_key = e.node_b"
            ~ " inner join " ~ ref('int_identity__components') ~ " as c on c.node_key = e.node_a"
            ~ " inner join " ~ ref('int_identity__component_crm_links') ~ " as l on l.component_key = c.component_key"
            ~ " where l.crm_customers > 1 and na.direct_crm_count = 0 and nb.direct_crm_count = 0) as remainder_edges"
    ) }}
),

final as (
    select
        node_key,
        component_key
    from remainder_components
)

select * from final
