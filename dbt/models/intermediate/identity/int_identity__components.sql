{{ config(post_hook="{{ drop_connected_components_work(this) }}") }}
{#- Connected components over the non-CRM keys (loop until converged, see the macro).
    component_key = the smallest node key of the component. -#}
with

components as (
    {{ connected_components(
        nodes="(select node_key from " ~ ref('int_identity__nodes') ~ " where node_type <> 'crm') as component_nodes",
        edges=ref('int_identity__graph_edges')
    ) }}
),

final as (
    select
        node_key,
        component_key
    from components
)

select * from final
