{#- One row per landing file and shop account: the account's first accepted web/app event in
    that file. The identity models take the shop accounts seen on the web from here
    (int_identity__nodes: the accounts; int_identity__key_records: when each was first seen):
    3.0M rows instead of the 33.6M daily counts with an account at a million customers, whose
    reading took ~6 s of CPU in every build.

    Incremental by source file like int_web__daily_key_activity
    (macros/landing/incremental_by_source_file.sql). Internal (accounts are identity keys); an
    erasure deletes the person's rows, as the counts lose the account. -#}
{{ source_file_incremental_config() }}
{{ config(source_file_base='base_web__events') }}

{%- set plan = source_files_to_rebuild(ref('base_web__events')) -%}

with

web_events as (
    select * from {{ ref('stg_web__events') }}
    where {{ source_files_filter(plan) }}
        and shop_account_id is not null
),

base_watermark as (
    select max(loaded_at) as base_loaded_at from {{ ref('base_web__events') }}
),

account_files as (
    select
        source_file,
        shop_account_id,
        min(occurred_at) as first_event_at
    from web_events
    group by source_file, shop_account_id
),

final as (
    select
        account_files.source_file,
        account_files.shop_account_id,
        account_files.first_event_at,
        base_watermark.base_loaded_at,
        '{{ model_rules_version() }}' as rules_version
    from account_files
    cross join base_watermark
)

select * from final
