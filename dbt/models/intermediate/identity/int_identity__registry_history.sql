{#- Every (key -> customer_id) assignment of the registry, newest first per key
    (recency_rank 1 = the key's current customer); the base of merges and splits. -#}
with

registry as (
    select * from {{ ref('int_identity__customer_id_registry') }}
),

final as (
    select
        node_key,
        customer_id,
        assigned_at,
        row_number() over (partition by node_key order by assigned_at desc, customer_id) as recency_rank
    from registry
)

select * from final
