{#-
    Every identity key with the group (future customer) it belongs to, named by its anchor:
      - a CRM key anchors its own group: two CRM customers are never merged;
      - a component directly linked to exactly one CRM customer joins it;
      - a component linked to none is a customer of its own (anchor = its smallest key);
      - a component linked to several (a conflict): keys with a direct link to exactly one
        CRM customer join it, the others form customers of their own (remainder components).
-#}
with

nodes as (
    select * from {{ ref('int_identity__nodes') }}
),

components as (
    select * from {{ ref('int_identity__components') }}
),

component_crm_links as (
    select * from {{ ref('int_identity__component_crm_links') }}
),

remainder_components as (
    select * from {{ ref('int_identity__conflict_remainder_components') }}
),

crm_groups as (
    select
        node_key,
        node_type,
        is_ambiguous,
        node_key as group_key
    from nodes
    where node_type = 'crm'
),

non_crm_groups as (
    select
        components.node_key,
        nodes.node_type,
        nodes.is_ambiguous,
        case
            when component_crm_links.crm_customers = 1 then component_crm_links.min_crm_key
            when component_crm_links.crm_customers > 1 and nodes.direct_crm_key is not null
                then nodes.direct_crm_key
            when component_crm_links.crm_customers > 1 then remainder_components.component_key
            else components.component_key
        end as group_key
    from components
    inner join nodes
        on nodes.node_key = components.node_key
    inner join component_crm_links
        on component_crm_links.component_key = components.component_key
    left join remainder_components
        on remainder_components.node_key = components.node_key
),

all_groups as (
    select * from crm_groups
    union all
    select * from non_crm_groups
),

final as (
    select
        node_key,
        node_type,
        is_ambiguous,
        group_key,
        group_key like 'crm:%' as group_has_crm
    from all_groups
)

select * from final
