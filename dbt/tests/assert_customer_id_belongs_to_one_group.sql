-- A customer_id names exactly one current group, and a group has exactly one customer_id.
select customer_id as conflicting_key, 'id in several groups' as problem
from {{ ref('int_identity__node_customers') }}
group by customer_id
having count(distinct group_key) > 1
union all
select group_key as conflicting_key, 'group with several ids' as problem
from {{ ref('int_identity__node_customers') }}
group by group_key
having count(distinct customer_id) > 1
