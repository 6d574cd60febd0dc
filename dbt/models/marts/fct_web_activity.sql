{#- One row per customer, day (of occurred_at), event type and device, with the day's accepted
    web/app events counted. customer_id is null when an event's account or e-mail belongs to no
    known customer (the account wins over the e-mail); those anonymous events share one row per
    day, type and device. No personal data (account and e-mail stay internal).

    Why a daily grain and not one row per event: every reader counts events or active days per
    customer (dim_customers, the monthly scores, profiles, lookalikes), and at a million
    customers the per-event mart held 103M rows - 84 s to build, 24 s for its key test, and the
    bulk of the publication's Parquet copy and of the erasure's work.

    The events are counted per (file, account, e-mail, day, type, device) incrementally in
    int_web__daily_key_activity; here only those counts look up their customer in the
    identified keys and are added up per customer.

    Incremental (macros/marts/incremental_by_changed_customers.sql): a build rebuilds only the
    days whose counts changed and the customers, and anonymous days, whose counts moved to
    another customer; int_web__activity_changes lists them. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='customer_days',
    customer_days_plan='int_web__activity_changes',
    on_schema_change='sync_all_columns',
    post_hook="{{ remember_customer_days_inputs(ref('int_web__activity_changes'), ref('int_web__daily_activity_fingerprints'), ref('int_identity__identified_keys')) }}"
) }}
-- depends_on: {{ ref('int_web__daily_activity_fingerprints') }}
{%- set plan = ref('int_web__activity_changes') -%}
{%- set full = segmentwerk.customer_days_full_rebuild(plan) %}
with

identified_keys as (
    select * from {{ ref('int_identity__identified_keys') }}
),
{%- if full %}

daily_key_activity as (
    select * from {{ ref('int_web__daily_key_activity') }}
),
{%- else %}

changes as (
    select * from {{ plan }}
),

keys_of_changed_customers as (
    select node_key from identified_keys
    where customer_id in (select customer_id from changes where change = 'customer')
),

-- every count of a changed day, every count with a key of a changed customer, and the
-- anonymous counts (no key identified) of a day whose anonymous counts changed: erasures mark
-- every day of the history so at a million customers, and attributing all 36M counts to
-- keep the few anonymous ones cost ~2 s
daily_key_activity as (
    select * from {{ ref('int_web__daily_key_activity') }}
    where activity_date in (select activity_date from changes where change = 'day')
        or {{ counts_with_a_key_in('keys_of_changed_customers') }}
        or (
            activity_date in (select activity_date from changes where change = 'anonymous_day')
            and {{ counts_with_no_key_in('identified_keys') }}
        )
),
{%- endif %}

attributed as (
    select
        {{ customer_of_keys('identified') }} as customer_id,
        daily_key_activity.activity_date,
        daily_key_activity.event_type,
        daily_key_activity.device,
        daily_key_activity.events,
        case when daily_key_activity.shop_account_id is not null then daily_key_activity.events else 0 end
            as logged_in_events,
        daily_key_activity.first_event_at,
        daily_key_activity.last_event_at
    from daily_key_activity
    {{ join_customer_of_keys('daily_key_activity', 'identified_keys', 'identified') }}
),

rebuilt as (
    select * from attributed
    {%- if not full %}
    where {{ segmentwerk.customer_days_changed(plan) }}
    {%- endif %}
),

final as (
    select
        customer_id,
        activity_date,
        event_type,
        device,
        cast(sum(events) as {{ dbt.type_bigint() }}) as events,
        cast(sum(logged_in_events) as {{ dbt.type_bigint() }}) as logged_in_events,
        min(first_event_at) as first_event_at,
        max(last_event_at) as last_event_at
    from rebuilt
    group by customer_id, activity_date, event_type, device
)

select * from final
