{#- Per component: how many CRM customers its keys are directly linked to (ambiguous keys do
    not count). 0 = a customer of its own, 1 = that CRM customer, >1 = a conflict. -#}
with

components as (
    select * from {{ ref('int_identity__components') }}
),

nodes as (
    select * from {{ ref('int_identity__nodes') }}
),

final as (
    select
        components.component_key,
        count(*) as component_nodes,
        count(distinct nodes.direct_crm_key) as crm_customers,
        min(nodes.direct_crm_key) as min_crm_key,
        max(nodes.direct_crm_key) as max_crm_key
    from components
    inner join nodes
        on nodes.node_key = components.node_key
    group by components.component_key
)

select * from final
