{#-
    Customers that were split off an existing customer: records that had been linked to a live
    customer_id and, after new data arrived, no longer are (e.g. an e-mail became a household
    e-mail shared by two CRM customers, so it no longer proves who placed its guest orders).
    The existing customer keeps its id; the split-off records form a new customer. Derived from
    the registry history, like customer_id_merges (where the old id is retired instead).
-#}
with

ranked as {{ not_materialized() }} (
    select * from {{ ref('int_identity__registry_history') }}
),

current_ids as (
    select node_key, customer_id, assigned_at from ranked where recency_rank = 1
),

previous_ids as (
    select node_key, customer_id from ranked where recency_rank = 2
),

live_ids as (
    select distinct customer_id from current_ids
),

final as (
    select
        current_ids.customer_id as split_customer_id,
        previous_ids.customer_id as split_from_customer_id,
        min(current_ids.assigned_at) as split_at,
        count(*) as moved_keys
    from current_ids
    inner join previous_ids
        on previous_ids.node_key = current_ids.node_key
    inner join live_ids
        on live_ids.customer_id = previous_ids.customer_id
    where current_ids.customer_id <> previous_ids.customer_id
    group by current_ids.customer_id, previous_ids.customer_id
)

select * from final
