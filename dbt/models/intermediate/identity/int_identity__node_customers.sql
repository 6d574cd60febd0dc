{#- Every current identity key with its customer_id (the latest registry assignment). -#}
with

groups as (
    select * from {{ ref('int_identity__customer_groups') }}
),

registry as (
    select * from {{ ref('int_identity__customer_id_registry') }}
),

ranked_registry as (
    select
        node_key,
        customer_id,
        row_number() over (partition by node_key order by assigned_at desc, customer_id) as recency_rank
    from registry
),

final as (
    select
        groups.node_key,
        groups.node_type,
        groups.group_key,
        groups.group_has_crm,
        ranked_registry.customer_id
    from groups
    inner join ranked_registry
        on ranked_registry.node_key = groups.node_key
        and ranked_registry.recency_rank = 1
)

select * from final
