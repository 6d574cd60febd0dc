{#-
    fx_rate_asof(wanted, fx_rates)

    The rate to the reporting currency for each wanted (currency, rate_day): the rate on the
    latest rate_date on or before rate_day; null when there is none.
      wanted    CTE/relation with distinct (currency, rate_day)
      fx_rates  relation with (currency, rate_date, rate_to_reporting), one row per key

    No range join: wanted days and rate days are merged into one sorted list per currency and
    a running max() carries the last rate_date forward, then an equi-join fetches the rate.
    Rows: currencies x distinct days, so it stays small for any number of orders.
-#}
{% macro fx_rate_asof(wanted, fx_rates) -%}
    select
        points.currency,
        points.rate_day,
        rates.rate_to_reporting
    from (
        select
            currency,
            point_date as rate_day,
            is_wanted,
            max(rate_date) over (partition by currency order by point_date) as asof_rate_date
        from (
            select currency, rate_day as point_date, 1 as is_wanted, cast(null as date) as rate_date
            from {{ wanted }}
            union all
            select currency, rate_date as point_date, 0 as is_wanted, rate_date
            from {{ fx_rates }}
        ) as merged_points
    ) as points
    left join {{ fx_rates }} as rates
        on rates.currency = points.currency
        and rates.rate_date = points.asof_rate_date
    where points.is_wanted = 1
{%- endmacro %}
