{#- Components whose keys are directly linked to more than one CRM customer (e.g. an account
    used with the e-mails of two people). They are not merged: keys with a direct link to
    exactly one CRM customer join it, the rest stay customers of their own. Internal only
    (carries e-mail node keys). -#}
with

component_crm_links as (
    select * from {{ ref('int_identity__component_crm_links') }}
),

components as (
    select * from {{ ref('int_identity__components') }}
),

nodes as (
    select * from {{ ref('int_identity__nodes') }}
),

conflicting as (
    select * from component_crm_links
    where crm_customers > 1
),

conflict_crm_keys as (
    select distinct
        components.component_key,
        nodes.direct_crm_key
    from components
    inner join nodes
        on nodes.node_key = components.node_key
    inner join conflicting
        on conflicting.component_key = components.component_key
    where nodes.direct_crm_key is not null
),

crm_lists as (
    select
        component_key,
        {{ dbt.listagg('direct_crm_key', "', '", 'order by direct_crm_key') }} as crm_keys
    from conflict_crm_keys
    group by component_key
),

final as (
    select
        conflicting.component_key,
        conflicting.component_nodes,
        conflicting.crm_customers,
        crm_lists.crm_keys,
        {{ loaded_at() }} as detected_at
    from conflicting
    left join crm_lists
        on crm_lists.component_key = conflicting.component_key
)

select * from final
