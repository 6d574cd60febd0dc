-- dbt reads every readable landing file with the options the preflight used: the records it
-- finds per file are the preflight's count (an unreadable file is one quarantined record).
with

preflight as (
    select
        source_table,
        source_file,
        case when status = 'unreadable' then 1 else records end as records
    from {{ landing_preflight_relation('landing_files') }}
),

reconciliation as (
    select source_table, source_file, rows_read
    from {{ ref('load_reconciliation') }}
)

select
    preflight.source_table,
    preflight.source_file,
    preflight.records,
    reconciliation.rows_read
from preflight
full outer join reconciliation
    on reconciliation.source_table = preflight.source_table
    and reconciliation.source_file = preflight.source_file
where coalesce(preflight.records, -1) <> coalesce(reconciliation.rows_read, -1)
