{#- A view: the accepted rows of the base table are a filter away, and copying tens of millions
    of events or orders once more cost more than any reader saves. Erasure redacts the base
    rows in place, so this view shows the redaction too. -#}
{{ config(materialized='view') }}

with

base as (
    select * from {{ ref('base_store__transactions') }}
),

final as (
    select
        transaction_id,
        transacted_at,
        store_id,
        loyalty_card_no,
        amount_original,
        currency,
        fx_rate,
        amount,
        is_return,
        source_file,
        source_line,
        loaded_at
    from base
    where quarantine_reason is null
)

select * from final
