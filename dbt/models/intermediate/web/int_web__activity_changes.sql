{#- What fct_web_activity rebuilds in this build: the days whose counts changed and the
    customers (and anonymous days) whose counts moved because an identified key changed its
    customer, compared with what the mart remembers it was built from
    (macros/marts/incremental_by_changed_customers.sql). Nothing but the 'planned' row when
    there is no memory yet: the mart is then built in full.

    A count row moves when its account or e-mail key was added to, removed from or re-assigned
    in the identified keys. Its customer then and now - the account's, else the e-mail's - both
    change: each is rebuilt, or its day as anonymous activity when it has none.

    A 'planned' row names the dbt invocation that made the plan: the mart trusts only a plan of
    its own invocation (built after its inputs), else it rebuilds in full.
    An erasure anonymises counts after a build; it renews the remembered fingerprints of their
    days and lists the customers and anonymous days whose rows that moved in
    `<this>__erased`, which this plan takes over (a day is then not rebuilt whole: at a million
    customers a month's erasures touched every day of the history). -#}
-- depends_on: {{ ref('int_web__daily_activity_fingerprints') }}
-- depends_on: {{ ref('int_web__daily_key_activity') }}
-- depends_on: {{ ref('int_identity__identified_keys') }}
{%- set built_days = segmentwerk.customer_days_memory(this, 'days') -%}
{%- set built_keys = segmentwerk.customer_days_memory(this, 'keys') -%}
{%- set erased = segmentwerk.customer_days_erased(this) -%}
{%- set remembered = execute and load_relation(built_days) is not none
    and load_relation(built_keys) is not none -%}
{%- set erasure_changes = execute and load_relation(erased) is not none -%}
{%- if remembered %}

with

day_fingerprints as (
    select * from {{ ref('int_web__daily_activity_fingerprints') }}
),

remembered_days as (
    select * from {{ built_days }}
),

daily_key_activity as (
    select * from {{ ref('int_web__daily_key_activity') }}
),

identified_keys as (
    select node_key, customer_id from {{ ref('int_identity__identified_keys') }}
),

remembered_keys as (
    select node_key, customer_id from {{ built_keys }}
),

changed_days as (
    {{ segmentwerk.changed_since_memory(
        'day_fingerprints', 'remembered_days', 'activity_date', ['key_rows', 'events', 'fingerprint']
    ) }}
),

changed_keys as (
    (select * from identified_keys except select * from remembered_keys)
    union
    (select * from remembered_keys except select * from identified_keys)
),

-- counts on unchanged days with a changed key: they may belong to someone else now
moved_counts as (
    select activity_date, shop_account_id, email_normalized
    from daily_key_activity
    where activity_date not in (select activity_date from changed_days)
        and {{ counts_with_a_key_in('changed_keys') }}
),

moved_customers as (
    select
        moved_counts.activity_date,
        {{ customer_of_keys('now') }} as customer_now,
        {{ customer_of_keys('before') }} as customer_before
    from moved_counts
    {{ join_customer_of_keys('moved_counts', 'identified_keys', 'now') }}
    {{ join_customer_of_keys('moved_counts', 'remembered_keys', 'before') }}
),

changed_customers as (
    select customer_now as customer_id from moved_customers where customer_now is not null
    union
    select customer_before from moved_customers where customer_before is not null
),

changed_anonymous_days as (
    select distinct activity_date from moved_customers
    where customer_now is null or customer_before is null
),

final as (
    select 'planned' as change, cast(null as date) as activity_date, cast(null as {{ dbt.type_string() }}) as customer_id
    union
    select 'day' as change, activity_date, cast(null as {{ dbt.type_string() }}) as customer_id
    from changed_days
    union
    select 'customer' as change, cast(null as date) as activity_date, customer_id
    from changed_customers
    union
    select 'anonymous_day' as change, activity_date, cast(null as {{ dbt.type_string() }}) as customer_id
    from changed_anonymous_days
    {%- if erasure_changes %}
    union
    select change, activity_date, customer_id from {{ erased }}
    {%- endif %}
)

select *, '{{ invocation_id }}' as planned_in from final

{%- else %}

select
    'planned' as change,
    cast(null as date) as activity_date,
    cast(null as {{ dbt.type_string() }}) as customer_id,
    '{{ invocation_id }}' as planned_in

{%- endif %}
