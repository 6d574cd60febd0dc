{#-
    One row per unified customer; no direct personal data (no names, e-mail, phone, street,
    birth date) and no source identifier: the CRM customer number is only in
    customer_identity_map, the one published place that links a customer_id to source keys.
    Attributes: the latest CRM version (by updated_at) wins; prospects fill what CRM lacks
    (postal_code, country, birth year).
-#}
with

source_records as (
    select * from {{ ref('int_identity__source_records') }}
),

node_customers as (
    select * from {{ ref('int_identity__node_customers') }}
),

crm_customers as (
    select * from {{ ref('stg_crm__customers') }}
),

prospects as (
    select * from {{ ref('stg_marketing__prospects') }}
),

web_activity as (
    select * from {{ ref('fct_web_activity') }}
),

customer_web_events as (
    select
        customer_id,
        sum(events) as web_events
    from web_activity
    where customer_id is not null
    group by customer_id
),

customer_records as (
    select
        customer_id,
        min(seen_at) as first_seen_at,
        sum(case when source_system = 'crm' then 1 else 0 end) as crm_customer_nos,
        sum(case when source_system = 'shop_account' then 1 else 0 end) as shop_accounts,
        sum(case when source_system = 'shop_order' then 1 else 0 end) as shop_orders,
        sum(case when source_system = 'loyalty_card' then 1 else 0 end) as loyalty_cards,
        sum(case when source_system = 'store_transaction' then 1 else 0 end) as store_transactions,
        sum(case when source_system = 'prospect' then 1 else 0 end) as prospects
    from source_records
    group by customer_id
),

latest_crm as (
    select
        node_customers.customer_id,
        crm_customers.birth_date,
        crm_customers.gender,
        crm_customers.postal_code,
        crm_customers.country,
        crm_customers.marketing_opt_in,
        row_number() over (
            partition by node_customers.customer_id
            order by crm_customers.updated_at desc, crm_customers.source_file desc, crm_customers.source_line desc
        ) as recency_rank
    from crm_customers
    inner join node_customers
        on node_customers.node_key = {{ dbt.concat(["'crm:'", 'crm_customers.customer_no']) }}
),

latest_prospect as (
    select
        node_customers.customer_id,
        prospects.postal_code,
        prospects.country,
        prospects.birth_year,
        row_number() over (
            partition by node_customers.customer_id
            order by prospects.created_at desc, prospects.prospect_id
        ) as recency_rank
    from prospects
    inner join node_customers
        on node_customers.node_key = {{ dbt.concat(["'prospect:'", 'prospects.prospect_id']) }}
),

golden as (
    select
        customer_records.*,
        coalesce(customer_web_events.web_events, 0) as web_events,
        coalesce(crm.country, prospect.country) as country,
        coalesce(crm.postal_code, prospect.postal_code) as postal_code,
        crm.gender,
        crm.marketing_opt_in,
        crm.customer_id is not null as has_crm_record,
        case
            when crm.birth_date is not null then
                extract(year from current_date) - extract(year from crm.birth_date)
                - case
                    when extract(month from current_date) * 100 + extract(day from current_date)
                        < extract(month from crm.birth_date) * 100 + extract(day from crm.birth_date)
                        then 1
                    else 0
                end
            when prospect.birth_year is not null then extract(year from current_date) - prospect.birth_year
        end as age_years
    from customer_records
    left join latest_crm as crm
        on crm.customer_id = customer_records.customer_id
        and crm.recency_rank = 1
    left join latest_prospect as prospect
        on prospect.customer_id = customer_records.customer_id
        and prospect.recency_rank = 1
    left join customer_web_events
        on customer_web_events.customer_id = customer_records.customer_id
),

final as (
    select
        customer_id,
        first_seen_at,
        {{ source_systems_list([
            ('crm', 'has_crm_record'),
            ('loyalty', 'loyalty_cards > 0'),
            ('marketing', 'prospects > 0'),
            ('shop', 'shop_orders + shop_accounts > 0'),
            ('store', 'store_transactions > 0'),
            ('web', 'web_events > 0'),
        ]) }} as source_systems,
        country,
        postal_code,
        case
            when age_years between 18 and 24 then '18-24'
            when age_years between 25 and 34 then '25-34'
            when age_years between 35 and 44 then '35-44'
            when age_years between 45 and 54 then '45-54'
            when age_years between 55 and 64 then '55-64'
            when age_years between 65 and 120 then '65+'
        end as age_band,
        gender,
        marketing_opt_in,
        prospects > 0 and crm_customer_nos + shop_orders + shop_accounts + loyalty_cards + store_transactions = 0
            as is_prospect_only,
        cast(crm_customer_nos as {{ dbt.type_int() }}) as crm_customer_nos,
        cast(shop_accounts as {{ dbt.type_int() }}) as shop_accounts,
        cast(shop_orders as {{ dbt.type_int() }}) as shop_orders,
        cast(loyalty_cards as {{ dbt.type_int() }}) as loyalty_cards,
        cast(store_transactions as {{ dbt.type_int() }}) as store_transactions,
        cast(prospects as {{ dbt.type_int() }}) as prospects,
        cast(web_events as {{ dbt.type_int() }}) as web_events
    from golden
)

select * from final
