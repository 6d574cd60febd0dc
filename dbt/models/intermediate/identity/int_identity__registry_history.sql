{{ config(materialized='view') }}
{#- Every (key -> customer_id) assignment of the registry, newest first per key
    (recency_rank 1 = the key's current customer); the base of merges and splits. The registry
    ranks its rows where it writes them: a view, so the history is not copied once more. -#}
with

registry as (
    select * from {{ ref('int_identity__customer_id_registry') }}
),

final as (
    select
        node_key,
        customer_id,
        assigned_at,
        recency_rank
    from registry
)

select * from final
