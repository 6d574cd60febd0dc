{#- One row per day of the daily key counts: how many count rows and events it has, and a
    fingerprint of its rows (macros/utils/group_fingerprint.sql). fct_web_activity remembers the
    fingerprints it was built from; a day whose fingerprint changed since - new or re-read
    files, removed files - is rebuilt there (macros/marts/incremental_by_changed_customers.sql).
    One pass over the counts, ~700 rows.

    A view, not a table: the erasure applies this definition to the few count rows it
    anonymises, before and after, and moves the fingerprints the mart remembers for their days
    by the difference (a sum of row hashes changes by exactly that; it hands the rows' other
    changes to the next build itself). So there is no second copy of the definition, and the
    view must read int_web__daily_key_activity exactly once (the erasure checks). -#}
{{ config(materialized='view') }}
with

daily_key_activity as (
    select * from {{ ref('int_web__daily_key_activity') }}
),

final as (
    select
        activity_date,
        cast(count(*) as {{ dbt.type_bigint() }}) as key_rows,
        cast(sum(events) as {{ dbt.type_bigint() }}) as events,
        {{ group_fingerprint([
            'source_file', 'shop_account_id', 'email_normalized', 'event_type', 'device',
            'events', 'first_event_at', 'last_event_at'
        ]) }} as fingerprint
    from daily_key_activity
    group by activity_date
)

select * from final
