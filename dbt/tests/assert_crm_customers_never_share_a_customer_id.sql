-- Rule 1 of identity resolution: two CRM customer numbers are never one customer.
select
    customer_id,
    count(*) as crm_keys
from {{ ref('int_identity__node_customers') }}
where node_type = 'crm'
group by customer_id
having count(*) > 1
