{#- Every row satisfies the boolean SQL `expression` (model- or column-level). -#}
{% test expression_is_true(model, expression, column_name=none) %}
select *
from {{ model }}
where not ({{ expression }})
{% endtest %}
