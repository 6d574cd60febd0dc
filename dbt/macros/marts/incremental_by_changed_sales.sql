{#-
    Incremental fct_orders: rebuild only the sales whose inputs changed.

    A shop order's row is its accepted staging row and its customer from
    int_identity__order_records, which stamps every order it decides with `decided_at`; a store
    sale's row is its accepted staging row and the customer of its loyalty card. A month changes
    few of them - the new sales and the orders and cards whose customer moved - but writing all
    17.4M rows again took ~10 s of every monthly run at a million customers.

    What the mart was last built from is remembered in `intermediate` (card numbers are personal
    data: never in a published schema), by the mart's post-hook (macros/utils/build_memory.sql):
      fct_orders__built_cards   the customer of every loyalty card (node_key, customer_id)
      fct_orders__built         the SQL's checksum and the build's start (built_at)
    A build rebuilds the orders decided since, the store sales loaded since and those of cards
    whose customer changed (or appeared or left); it deletes the rows of orders and sales that
    are no longer accepted, or whose order has no customer any more. The result equals a full
    rebuild (tests/test_incremental_staging.py). No memory, or memory of another version of the
    SQL, rebuilds every row.

    The erasure nulls customer_id in the mart in place and the keys in staging; the order records
    it clears are decided again by the next build, which then rebuilds those orders here. It
    deletes the remembered cards of the people it erases, as it does every row naming them.
-#}

{#- {'full': true} to rebuild every row (see build_memory.sql); else `built_at`. -#}
{% macro sales_plan() -%}
    {{ return(segmentwerk.changes_since_last_build(['cards'])) }}
{%- endmacro %}

{#- The customer of every loyalty card now, as the memory keeps it. -#}
{% macro card_customers(node_customers) -%}
    select node_key, customer_id from {{ node_customers }}
    where node_key like 'card:%'
{%- endmacro %}

{#- The `changed_sales` incremental strategy (dbt looks it up by this name). The mart's rows
    are the sales rebuilt; their old rows go, and so do the rows of orders decided again
    without a customer. A sale that is no longer accepted (or an order without a customer)
    would leave more rows than there are sales: the anti-joins over every sale (~1.5 s at a
    million customers) run only then. -#}
{% macro get_incremental_changed_sales_sql(arg_dict) -%}
    {%- set plan = segmentwerk.sales_plan() -%}
    {%- if plan.full -%}
        {%- set replaced = '1 = 1' -%}
    {%- else -%}
        {%- set target = arg_dict['target_relation'] -%}
        {%- set new_rows = arg_dict['temp_relation'] -%}
        {%- set order_records = ref('int_identity__order_records') -%}
        {%- set store_sales = ref('stg_store__transactions') -%}
        {%- set rebuilt -%}
            exists (
                select 1 from {{ new_rows }}
                where {{ new_rows }}.source_system = {{ target }}.source_system
                    and {{ new_rows }}.order_id = {{ target }}.order_id
            )
            or (source_system = 'shop' and order_id in (
                select order_id from {{ order_records }}
                where decided_at > cast('{{ plan.built_at }}' as {{ dbt.type_timestamp() }})
            ))
        {%- endset -%}
        {%- set surplus = run_query(
            "select source_system, count(*) from " ~ target ~ " where not (" ~ rebuilt ~ ") group by 1"
        ).rows -%}
        {%- set kept = {} -%}
        {%- for row in surplus -%}{%- do kept.update({row[0]: row[1]}) -%}{%- endfor -%}
        {%- set expected = run_query(
            "select (select count(*) from " ~ order_records ~ " where customer_id is not null),"
            ~ " (select count(*) from " ~ store_sales ~ "),"
            ~ " (select count(*) from " ~ new_rows ~ " where source_system = 'shop'),"
            ~ " (select count(*) from " ~ new_rows ~ " where source_system = 'store')"
        ).rows[0] -%}
        {%- set replaced = '(' ~ rebuilt ~ ')' -%}
        {%- if kept.get('shop', 0) + expected[2] != expected[0] -%}
            {%- set replaced = replaced ~ " or (source_system = 'shop' and order_id not in (select order_id from "
                ~ order_records ~ " where customer_id is not null))" -%}
        {%- endif -%}
        {%- if kept.get('store', 0) + expected[3] != expected[1] -%}
            {%- set replaced = replaced ~ " or (source_system = 'store' and order_id not in (select transaction_id from "
                ~ store_sales ~ "))" -%}
        {%- endif -%}
    {%- endif -%}
    {{ segmentwerk.delete_then_insert(arg_dict, replaced) }}
{%- endmacro %}

{#- Post-hook of the mart: remember what it was built from (see above). -#}
{% macro remember_sales_inputs(node_customers) -%}
    create or replace table {{ segmentwerk.build_memory('cards') }} as
    {{ segmentwerk.card_customers(node_customers) }};
    {{ segmentwerk.remember_build() }}
{%- endmacro %}
