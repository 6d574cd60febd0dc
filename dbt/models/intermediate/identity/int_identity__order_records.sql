{#-
    Every accepted shop order with the identity key that decides its customer, by strength:
      1. its CRM customer number;
      2. a non-ambiguous e-mail, then account, with a direct link to one CRM customer (they
         differ only in a conflict component; the e-mail is the more personal key);
      3. a non-ambiguous account, then e-mail (the customer of their component);
      4. an ambiguous account, then e-mail: a household key is a customer of its own (it
         never joins a CRM customer; measured on the demo truth this keeps pairwise precision
         above 0.999 and recall higher than one customer per order);
      5. none: the order itself (`order:<order_id>`).
    Orders are graph nodes only in case 5. customer_id is that key's current customer (null if
    it has none; int_identity__source_records leaves those out); decided_at is the build that
    decided the order.

    Incremental (macros/identity/incremental_order_records.sql): a build decides again only the
    orders whose own row or whose keys' nodes changed since the last build.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='changed_orders',
    on_schema_change='sync_all_columns',
    post_hook="{{ remember_order_decision_inputs(ref('int_identity__nodes'), ref('int_identity__node_customers')) }}"
) }}
{%- set plan = segmentwerk.order_records_plan() %}
{%- if execute %}
{{- log("order_records " ~ this.identifier ~ ": " ~ ("every order" if plan.full else "orders loaded after " ~ plan.built_at ~ " or with a changed key"), info=true) }}
{%- endif %}
with

shop_orders as (
    select * from {{ ref('stg_shop__orders') }}
),

nodes as (
    select * from {{ ref('int_identity__nodes') }}
),

node_customers as (
    select * from {{ ref('int_identity__node_customers') }}
),
{%- if not plan.full %}

decision_inputs as (
    {{ segmentwerk.order_decision_inputs('nodes', 'node_customers') }}
),

remembered_inputs as (
    select node_key, is_ambiguous, direct_crm_key, customer_id
    from {{ segmentwerk.build_memory('nodes') }}
),

changed_nodes as (
    {{ segmentwerk.changed_since_memory(
        'decision_inputs', 'remembered_inputs', 'node_key',
        ['is_ambiguous', 'direct_crm_key', 'customer_id']
    ) }}
),

{#- The prefixes are cut off the few changed keys rather than added to every order. -#}
changed_keys as (
    select
        substring(node_key, 1, {{ dbt.position("':'", 'node_key') }} - 1) as node_type,
        substring(node_key, {{ dbt.position("':'", 'node_key') }} + 1) as key_value,
        node_key
    from changed_nodes
),

{#- One filter over the orders (a second reference would make DuckDB materialise all 12.5M). -#}
decided_orders as (
    select * from shop_orders
    where loaded_at > cast('{{ plan.built_at }}' as {{ dbt.type_timestamp() }})
        or customer_no in (select key_value from changed_keys where node_type = 'crm')
        or shop_account_id in (select key_value from changed_keys where node_type = 'account')
        or email_normalized in (select key_value from changed_keys where node_type = 'email')
        or order_id in (select key_value from changed_keys where node_type = 'order')
        or order_id in (
            select order_id from {{ this }}
            where node_key is null
                or customer_id is null
                or node_key in (select node_key from changed_nodes)
        )
),
{%- else %}

decided_orders as (
    select * from shop_orders
),
{%- endif %}

order_keys as (
    select
        order_id,
        ordered_at,
        case when customer_no is not null then {{ dbt.concat(["'crm:'", 'customer_no']) }} end as crm_node,
        case when shop_account_id is not null then {{ dbt.concat(["'account:'", 'shop_account_id']) }} end as account_node,
        case when email_normalized is not null then {{ dbt.concat(["'email:'", 'email_normalized']) }} end as email_node
    from decided_orders
),

with_node_flags as (
    select
        order_keys.order_id,
        order_keys.ordered_at,
        order_keys.crm_node,
        order_keys.account_node,
        order_keys.email_node,
        accounts.is_ambiguous as account_is_ambiguous,
        accounts.direct_crm_key as account_crm_key,
        emails.is_ambiguous as email_is_ambiguous,
        emails.direct_crm_key as email_crm_key
    from order_keys
    left join nodes as accounts
        on accounts.node_key = order_keys.account_node
    left join nodes as emails
        on emails.node_key = order_keys.email_node
),

deciding_keys as (
    select
        order_id,
        case
            when crm_node is not null then crm_node
            when email_node is not null and not email_is_ambiguous and email_crm_key is not null
                then email_node
            when account_node is not null and not account_is_ambiguous and account_crm_key is not null
                then account_node
            when account_node is not null and not account_is_ambiguous then account_node
            when email_node is not null and not email_is_ambiguous then email_node
            when account_node is not null then account_node
            when email_node is not null then email_node
            else {{ dbt.concat(["'order:'", 'order_id']) }}
        end as node_key,
        ordered_at
    from with_node_flags
),

final as (
    select
        deciding_keys.order_id,
        deciding_keys.node_key,
        node_customers.customer_id,
        deciding_keys.ordered_at,
        -- when the order was decided: fct_orders rebuilds the orders decided since its last build
        {{ loaded_at() }} as decided_at
    from deciding_keys
    left join node_customers
        on node_customers.node_key = deciding_keys.node_key
)

select * from final
