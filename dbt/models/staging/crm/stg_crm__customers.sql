{#- One row per CRM customer version (customer_no, updated_at): the update history is kept,
    identity resolution links every e-mail a customer ever had. -#}
with

base as (
    select * from {{ ref('base_crm__customers') }}
),

final as (
    select
        {{ dbt.concat(['customer_no', "'@'", dbt.cast('updated_at', dbt.type_string())]) }}
            as customer_version_id,
        customer_no,
        first_name,
        last_name,
        email_normalized,
        phone,
        birth_date,
        gender,
        street,
        postal_code,
        city,
        country,
        signup_date,
        marketing_opt_in,
        contract_end_date,
        updated_at,
        source_file,
        source_line
    from base
    where quarantine_reason is null
)

select * from final
