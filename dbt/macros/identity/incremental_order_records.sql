{#-
    Incremental order records: decide again only the shop orders whose inputs changed.

    An order's deciding key (int_identity__order_records) is a function of the order's own keys
    and, for each of them, the node's flags in int_identity__nodes (is_ambiguous,
    direct_crm_key) and its customer in int_identity__node_customers. A month changes few of
    those - the new orders, and the keys that were linked, split, merged or erased - but deciding
    and writing every order again took ~13 s of every monthly run at a million customers
    (12.5M orders), and fct_orders joined all of them again.

    What the orders were last decided from is remembered by its post-hook, in the same
    transaction as its rows (macros/utils/build_memory.sql):
      <this>__built_nodes   per node: node_key, is_ambiguous, direct_crm_key, customer_id
      <this>__built         the SQL's checksum and the build's start (built_at)
    A build decides again the orders
      - loaded since (stg_shop__orders.loaded_at after built_at: new, re-read or re-judged
        rows),
      - with a CRM number, account or e-mail whose node changed in any remembered column, or
        appeared or left,
      - whose own `order:<order_id>` node changed (a keyless order; an erased order becomes
        one: the erasure nulls its keys in staging in place, without a new loaded_at),
      - whose record names a changed node, or lost its node or customer to an erasure (it
        nulls both in place: the rows hold `order_id`, an event key);
    and deletes the records of orders that are no longer accepted (a removed or re-judged
    file). The result equals deciding every order (tests/test_incremental_staging.py).
    No memory, or memory of another version of the SQL, decides every order.

    The erasure deletes the remembered nodes of the people it erases (they hold node_key and
    customer_id), so their keys count as changed if they come back.
-#}

{#- True when every order is decided (see build_memory.sql); else `built_at`. -#}
{% macro order_records_plan() -%}
    {{ return(segmentwerk.changes_since_last_build(['nodes'])) }}
{%- endmacro %}

{#- What the orders are decided from, per node: the columns the memory keeps. -#}
{% macro order_decision_inputs(nodes, node_customers) -%}
    select
        {{ nodes }}.node_key,
        {{ nodes }}.is_ambiguous,
        {{ nodes }}.direct_crm_key,
        {{ node_customers }}.customer_id
    from {{ nodes }}
    left join {{ node_customers }}
        on {{ node_customers }}.node_key = {{ nodes }}.node_key
{%- endmacro %}

{#- The `changed_orders` incremental strategy (dbt looks it up by this name): the model's rows
    are the orders decided again; their old records go, and so do the records of orders that
    are no longer accepted. Every accepted order has a record, so there are such orders only
    when the table would hold more records than there are accepted orders: the anti-join over
    every order (~1 s at a million customers) runs only then. -#}
{% macro get_incremental_changed_orders_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set new_rows = arg_dict['temp_relation'] -%}
    {%- set accepted = ref('stg_shop__orders') -%}
    {%- if segmentwerk.order_records_plan().full -%}
        {%- set replaced = '1 = 1' -%}
    {%- else -%}
        {%- set replaced = 'order_id in (select order_id from ' ~ new_rows ~ ')' -%}
        {%- set surplus = run_query(
            "select (select count(*) from " ~ target ~ ")"
            ~ " - (select count(*) from " ~ target ~ " where order_id in (select order_id from " ~ new_rows ~ "))"
            ~ " + (select count(*) from " ~ new_rows ~ ")"
            ~ " - (select count(*) from " ~ accepted ~ ")"
        ).rows[0][0] -%}
        {%- if surplus != 0 -%}
            {%- set replaced = replaced ~ ' or order_id not in (select order_id from ' ~ accepted ~ ')' -%}
        {%- endif -%}
    {%- endif -%}
    {{ segmentwerk.delete_then_insert(arg_dict, replaced) }}
{%- endmacro %}

{#- Post-hook of the model: remember what the orders were decided from (see above). -#}
{% macro remember_order_decision_inputs(nodes, node_customers) -%}
    create or replace table {{ segmentwerk.build_memory('nodes') }} as
    {{ segmentwerk.order_decision_inputs(nodes, node_customers) }};
    {{ segmentwerk.remember_build() }}
{%- endmacro %}
