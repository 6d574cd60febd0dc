{{ config(
    materialized='incremental',
    unique_key=['node_key', 'customer_id'],
    incremental_strategy=('delete+insert' if target.type == 'duckdb' else 'insert_overwrite'),
    full_refresh=false,
    on_schema_change='append_new_columns',
    tags=['stateful']
) }}
{#-
    The memory that keeps customer_id stable across runs: the history of (identity key ->
    customer_id) assignments. NEVER full-refreshed (full_refresh: false); losing it would
    re-mint ids of merged or split customers.

    For every current group (see int_identity__customer_groups):
      - no key registered yet: mint 'cus_' || first 16 hex of md5(id salt || anchor) (if that
        id was ever handed out before: of anchor || '#split#' || it); see mint_customer_id;
      - keys registered under one or more ids: keep the earliest registered id (then the
        smallest); the other ids are merged into it (see marts.customer_id_merges);
      - an id claimed by several groups (a split, e.g. an e-mail became a household e-mail and
        no longer links a prospect to the orders): the group holding a CRM key registered under
        it keeps it, else a group of non-ambiguous keys, else the group with most keys
        registered under it, else the smallest anchor; the others keep another id they win or
        mint md5(anchor || '#split#' || old id).
    The model writes the whole history back (old rows + rows for keys whose id changed), so
    delete+insert and insert_overwrite give the same table; recency_rank ranks each key's
    assignments newest first (1 = current).
-#}
{#- One ranking for the history read and the history written: the current registration this
    build decides from is the one the stored rank names. -#}
{%- set newest_first = "row_number() over (partition by node_key order by assigned_at desc, customer_id)" %}
with

groups as (
    select * from {{ ref('int_identity__customer_groups') }}
),

history as (
    {% if is_incremental() %}
    select
        node_key,
        customer_id,
        assigned_at
    from {{ this }}
    {% else %}
    select
        cast(null as {{ dbt.type_string() }}) as node_key,
        cast(null as {{ dbt.type_string() }}) as customer_id,
        cast(null as {{ dbt.type_timestamp() }}) as assigned_at
    where 1 = 0
    {% endif %}
),

ranked_history as (
    select
        node_key,
        customer_id,
        {{ newest_first }} as recency_rank
    from history
),

current_registration as (
    select
        node_key,
        customer_id
    from ranked_history
    where recency_rank = 1
),

id_ages as (
    select
        customer_id,
        min(assigned_at) as id_registered_at
    from history
    group by customer_id
),

claims as (
    select
        groups.group_key,
        current_registration.customer_id,
        count(*) as claiming_nodes,
        max(case when groups.node_type = 'crm' then 1 else 0 end) as claimed_by_crm_node,
        -- an ambiguous (household) key keeps an id only when no other group wants it
        max(case when groups.is_ambiguous then 0 else 1 end) as claimed_by_person_key
    from groups
    inner join current_registration
        on current_registration.node_key = groups.node_key
    group by groups.group_key, current_registration.customer_id
),

ranked_claims as (
    select
        claims.group_key,
        claims.customer_id,
        id_ages.id_registered_at,
        row_number() over (
            partition by claims.customer_id
            order by
                claims.claimed_by_crm_node desc,
                claims.claimed_by_person_key desc,
                claims.claiming_nodes desc,
                claims.group_key
        ) as claim_rank,
        row_number() over (
            partition by claims.group_key
            order by id_ages.id_registered_at, claims.customer_id
        ) as preference_rank
    from claims
    inner join id_ages
        on id_ages.customer_id = claims.customer_id
),

won_ids as (
    select
        group_key,
        customer_id,
        row_number() over (partition by group_key order by id_registered_at, customer_id) as keep_rank
    from ranked_claims
    where claim_rank = 1
),

anchors as (
    select distinct group_key from groups
),

fresh_ids as (
    select
        group_key,
        {{ mint_customer_id('group_key') }} as fresh_id
    from anchors
),

group_ids as (
    select
        anchors.group_key,
        case
            when kept.customer_id is not null then kept.customer_id
            when preferred.customer_id is not null
                then {{ mint_customer_id(dbt.concat(["anchors.group_key", "'#split#'", "preferred.customer_id"])) }}
            when known_ids.customer_id is null then fresh_ids.fresh_id
            -- the anchor's natural id was handed out before (to a group it has left)
            else {{ mint_customer_id(dbt.concat(["anchors.group_key", "'#split#'", "fresh_ids.fresh_id"])) }}
        end as customer_id
    from anchors
    inner join fresh_ids
        on fresh_ids.group_key = anchors.group_key
    left join id_ages as known_ids
        on known_ids.customer_id = fresh_ids.fresh_id
    left join won_ids as kept
        on kept.group_key = anchors.group_key
        and kept.keep_rank = 1
    left join ranked_claims as preferred
        on preferred.group_key = anchors.group_key
        and preferred.preference_rank = 1
),

changed_assignments as (
    select
        groups.node_key,
        group_ids.customer_id,
        {{ loaded_at() }} as assigned_at
    from groups
    inner join group_ids
        on group_ids.group_key = groups.group_key
    left join current_registration
        on current_registration.node_key = groups.node_key
    where current_registration.customer_id is null
        or current_registration.customer_id <> group_ids.customer_id
),

kept_history as (
    select
        history.node_key,
        history.customer_id,
        history.assigned_at
    from history
    left join changed_assignments
        on changed_assignments.node_key = history.node_key
        and changed_assignments.customer_id = history.customer_id
    where changed_assignments.node_key is null
),

assignments as (
    select * from kept_history
    union all
    select * from changed_assignments
),

{#- Ranked newest first per key (1 = the key's current customer) here, where every row is
    written anyway: int_identity__registry_history is a view of this table (ranking and
    writing the whole history a second time took ~3 s at a million customers). -#}
final as (
    select
        node_key,
        customer_id,
        assigned_at,
        {{ newest_first }} as recency_rank
    from assignments
)

select * from final
