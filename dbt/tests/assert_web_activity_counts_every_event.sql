-- fct_web_activity counts every accepted web event exactly once: its events add up to the rows
-- of stg_web__events (an erasure keeps the counts: it only sets customer_id null).
with

activity as (
    select sum(events) as events from {{ ref('fct_web_activity') }}
),

staged as (
    select count(*) as events from {{ ref('stg_web__events') }}
)

select
    staged.events as staged_events,
    activity.events as activity_events
from staged
cross join activity
where staged.events <> coalesce(activity.events, 0)
