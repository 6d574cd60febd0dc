-- The marts are published to the BI file: no column may carry direct personal data.
{%- set forbidden = ['first_name', 'last_name', 'name', 'email', 'email_normalized', 'phone',
                     'street', 'birth_date', 'city'] -%}
{%- set marts = [ref('dim_customers'), ref('customer_identity_map'), ref('fct_orders'),
                 ref('customer_id_merges'), ref('fct_web_activity'), ref('quarantine'), ref('load_reconciliation')] -%}
{%- set violations = [] -%}
{%- if execute -%}
    {%- for relation in marts -%}
        {%- for column in adapter.get_columns_in_relation(relation) -%}
            {%- if column.name | lower in forbidden -%}
                {%- do violations.append(relation.identifier ~ '.' ~ column.name) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
{%- endif %}
select violation
from (
    select cast(null as {{ dbt.type_string() }}) as violation
    {%- for violation in violations %}
    union all
    select '{{ violation }}' as violation
    {%- endfor %}
) as violations
where violation is not null
