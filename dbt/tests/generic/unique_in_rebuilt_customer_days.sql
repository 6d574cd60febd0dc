{#- `columns` are unique in a customer × day mart (macros/marts/incremental_by_changed_customers.sql),
    checked where they can break: in the rows that builds replaced since the test last passed
    (`<plan>__unverified`: every row after a full build, else the rebuilt days and customers).
    A row outside them was checked when it was written, and keeps its key: a duplicate needs a
    new row, and the rows with its key share its day and customer, so they are in scope too.
    The scope is the strategy's own filter of replaced rows (`customer_days_changed`; the list
    has the plan's columns). The anonymous rows (customer_id null) are left out, as in the
    mart's key. At a million customers the whole-table check took 6-7 s every month; a month's
    scope ~1 s.
    No list (a warehouse from before it, or a list the mart's post-hook created in this
    invocation, which dbt's relation cache does not know yet): every row is checked. -#}
{% test unique_in_rebuilt_customer_days(model, columns, plan) %}
{%- set unverified = segmentwerk.customer_days_unverified(plan) -%}
{%- set everything = true -%}
{%- if execute and load_relation(unverified) is not none -%}
    {%- set everything = run_query(
        "select count(*) from " ~ unverified ~ " where change = 'every row'"
    ).rows[0][0] > 0 -%}
{%- endif %}
select
    {{ columns | join(', ') }},
    count(*) as occurrences
from {{ model }}
where customer_id is not null
{%- if not everything %}
    and {{ segmentwerk.customer_days_changed(unverified) }}
{%- endif %}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
