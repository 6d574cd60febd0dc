-- Every accepted web event is counted exactly once: per landing file in
-- int_web__daily_key_activity (which is built incrementally, file by file), and in total in
-- fct_web_activity. An erasure keeps the counts: it only nulls the identifying columns.
with

staged as (
    select source_file, count(*) as events
    from {{ ref('stg_web__events') }}
    group by source_file
),

daily_key_activity as (
    select source_file, sum(events) as events
    from {{ ref('int_web__daily_key_activity') }}
    group by source_file
),

activity as (
    select sum(events) as events from {{ ref('fct_web_activity') }}
),

file_mismatches as (
    select
        coalesce(staged.source_file, daily_key_activity.source_file) as source_file,
        coalesce(staged.events, 0) as staged_events,
        coalesce(daily_key_activity.events, 0) as counted_events
    from staged
    full outer join daily_key_activity
        on daily_key_activity.source_file = staged.source_file
    where coalesce(staged.events, 0) <> coalesce(daily_key_activity.events, 0)
),

total_mismatch as (
    select
        cast(null as {{ dbt.type_string() }}) as source_file,
        (select sum(events) from staged) as staged_events,
        activity.events as counted_events
    from activity
    where coalesce(activity.events, 0) <> coalesce((select sum(events) from staged), 0)
)

select * from file_mismatches
union all
select * from total_mismatch
