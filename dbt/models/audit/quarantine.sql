{#- Every landing row that did not reach the warehouse, with its file, line and reason.
    The record is the raw row as JSON with personal fields masked. -#}
{%- set base_models = landing_base_models() -%}

with

{% for base_model in base_models %}
{{ base_model }} as (
    select * from {{ ref(base_model) }}
),
{% endfor %}

rejected as (
    {%- for base_model in base_models %}
    select
        source_table,
        source_file,
        source_line,
        quarantine_reason as reason,
        quarantine_record as record
    from {{ base_model }}
    where quarantine_reason is not null
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

final as (
    select
        source_table,
        source_file,
        source_line,
        reason,
        record,
        {{ loaded_at() }} as loaded_at
    from rejected
)

select * from final
