{#- One row per landing file, shop account, e-mail, day (of occurred_at), event type and device,
    with the accepted web/app events counted: the web events as far as anybody reads them
    (fct_web_activity attributes them to customers; the identity models take accounts from
    them), a third of the events' rows at a million customers.

    Incremental by source file (macros/landing/incremental_by_source_file.sql): a month's build
    aggregates the files that month's staging wrote, not a hundred million events. -#}
{{ source_file_incremental_config() }}
{{ config(source_file_base='base_web__events') }}

{%- set plan = source_files_to_rebuild(ref('base_web__events')) -%}

with

web_events as (
    select * from {{ ref('stg_web__events') }}
    where {{ source_files_filter(plan) }}
),

base_watermark as (
    select max(loaded_at) as base_loaded_at from {{ ref('base_web__events') }}
),

dated_events as (
    select
        source_file,
        shop_account_id,
        email_normalized,
        cast(occurred_at as date) as activity_date,
        event_type,
        device,
        occurred_at
    from web_events
),

key_days as (
    select
        source_file,
        shop_account_id,
        email_normalized,
        activity_date,
        event_type,
        device,
        count(*) as events,
        min(occurred_at) as first_event_at,
        max(occurred_at) as last_event_at
    from dated_events
    group by source_file, shop_account_id, email_normalized, activity_date, event_type, device
),

final as (
    select
        key_days.source_file,
        key_days.shop_account_id,
        key_days.email_normalized,
        key_days.activity_date,
        key_days.event_type,
        key_days.device,
        cast(key_days.events as {{ dbt.type_bigint() }}) as events,
        key_days.first_event_at,
        key_days.last_event_at,
        base_watermark.base_loaded_at,
        '{{ model_rules_version() }}' as rules_version
    from key_days
    cross join base_watermark
)

select * from final
