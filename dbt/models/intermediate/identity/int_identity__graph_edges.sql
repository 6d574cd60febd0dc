{#- The edges the components are built over: links between two non-CRM keys, neither of them
    ambiguous. CRM customers are attached afterwards, so two of them can never be merged. -#}
with

links as (
    select * from {{ ref('int_identity__links') }}
),

nodes as (
    select * from {{ ref('int_identity__nodes') }}
),

final as (
    select
        links.node_a,
        links.node_b
    from links
    inner join nodes as nodes_a
        on nodes_a.node_key = links.node_a
    inner join nodes as nodes_b
        on nodes_b.node_key = links.node_b
    where nodes_a.node_type <> 'crm'
        and nodes_b.node_type <> 'crm'
        and not nodes_a.is_ambiguous
        and not nodes_b.is_ambiguous
)

select * from final
