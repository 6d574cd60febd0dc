{#- One row per landing file in this load: rows read = rows accepted + rows quarantined,
    with the preflight's verdict on the file (ok | repaired | unreadable) and its note. -#}
{%- set base_models = landing_base_models() -%}

with

{% for base_model in base_models %}
{{ base_model }} as (
    select * from {{ ref(base_model) }}
),
{% endfor %}

landing_rows as (
    {%- for base_model in base_models %}
    select
        source_table,
        source_file,
        case when quarantine_reason is null then 1 else 0 end as is_accepted
    from {{ base_model }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

landing_files as (
    select source_table, source_file, status, note
    from {{ landing_preflight_relation('landing_files') }}
),

per_file as (
    select
        source_table,
        source_file,
        count(*) as rows_read,
        sum(is_accepted) as rows_accepted
    from landing_rows
    group by source_table, source_file
),

{#- Every file the preflight saw has a row, also one with a header and no records; an
    unreadable file counts as one record read and quarantined (its rows cannot be told apart). -#}
final as (
    select
        coalesce(landing_files.source_table, per_file.source_table) as source_table,
        coalesce(landing_files.source_file, per_file.source_file) as source_file,
        cast(coalesce(per_file.rows_read, 0) as {{ dbt.type_bigint() }}) as rows_read,
        cast(coalesce(per_file.rows_accepted, 0) as {{ dbt.type_bigint() }}) as rows_accepted,
        cast(coalesce(per_file.rows_read - per_file.rows_accepted, 0) as {{ dbt.type_bigint() }})
            as rows_quarantined,
        coalesce(landing_files.status, 'ok') as file_status,
        landing_files.note as file_note,
        {{ loaded_at() }} as loaded_at
    from landing_files
    full outer join per_file
        on per_file.source_table = landing_files.source_table
        and per_file.source_file = landing_files.source_file
)

select * from final
