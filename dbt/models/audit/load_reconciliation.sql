{#- One row per landing file in this load: rows read = rows accepted + rows quarantined. -#}
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

final as (
    select
        source_table,
        source_file,
        cast(count(*) as {{ dbt.type_bigint() }}) as rows_read,
        cast(sum(is_accepted) as {{ dbt.type_bigint() }}) as rows_accepted,
        cast(count(*) - sum(is_accepted) as {{ dbt.type_bigint() }}) as rows_quarantined,
        {{ loaded_at() }} as loaded_at
    from landing_rows
    group by source_table, source_file
)

select * from final
