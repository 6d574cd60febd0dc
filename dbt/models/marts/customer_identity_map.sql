{#- One row per source record key: which unified customer it belongs to. A view: the source
    records are a column projection away, and the publication copies the rows once anyway. -#}
{{ config(materialized='view') }}

with

source_records as (
    select * from {{ ref('int_identity__source_records') }}
),

final as (
    select
        source_system,
        source_key,
        customer_id
    from source_records
)

select * from final
