{#-
    customer_ids that stopped existing because their records were proven to belong to another
    customer, and the id that carries them now. Derived from the registry history, so a chain
    (a into b, later b into c) points every merged id at the id alive today.
-#}
with

ranked as {{ not_materialized() }} (
    select * from {{ ref('int_identity__registry_history') }}
),

current_ids as (
    select
        node_key,
        customer_id,
        assigned_at
    from ranked
    where recency_rank = 1
),

live_ids as (
    select distinct customer_id from current_ids
),

retired_assignments as (
    select
        ranked.node_key,
        ranked.customer_id as merged_customer_id
    from ranked
    left join live_ids
        on live_ids.customer_id = ranked.customer_id
    where live_ids.customer_id is null
),

successors as (
    select
        retired_assignments.merged_customer_id,
        current_ids.customer_id as surviving_customer_id,
        count(*) as moved_nodes,
        min(current_ids.assigned_at) as merged_at
    from retired_assignments
    inner join current_ids
        on current_ids.node_key = retired_assignments.node_key
    group by retired_assignments.merged_customer_id, current_ids.customer_id
),

ranked_successors as (
    select
        merged_customer_id,
        surviving_customer_id,
        merged_at,
        row_number() over (
            partition by merged_customer_id
            order by moved_nodes desc, surviving_customer_id
        ) as successor_rank
    from successors
),

final as (
    select
        merged_customer_id,
        surviving_customer_id,
        merged_at
    from ranked_successors
    where successor_rank = 1
)

select * from final
