{#- Every current identity key with its customer_id (the latest registry assignment). -#}
with

groups as (
    select * from {{ ref('int_identity__customer_groups') }}
),

registry_history as (
    select * from {{ ref('int_identity__registry_history') }}
),

final as (
    select
        groups.node_key,
        groups.node_type,
        groups.group_key,
        groups.group_has_crm,
        registry_history.customer_id
    from groups
    -- recency_rank 1: the key's current customer (the history ranks every assignment once)
    inner join registry_history
        on registry_history.node_key = groups.node_key
        and registry_history.recency_rank = 1
)

select * from final
