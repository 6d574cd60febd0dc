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


{#-
    convert_to_reporting(parsed, at_column)

    Three CTEs (wanted_rates, fx_lookup, converted) that add `fx_rate` to every row of the CTE
    `parsed`: 1 for the reporting currency, else the as-of rate of the row's day (null when
    there is none, which the caller quarantines). Expects a CTE `fx_rates` in the model.
-#}
{% macro convert_to_reporting(parsed, at_column) -%}
wanted_rates as (
    select distinct
        currency,
        cast({{ at_column }} as date) as rate_day
    from {{ parsed }}
    where currency is not null
        and {{ at_column }} is not null
        and currency <> '{{ reporting_currency() }}'
),

fx_lookup as (
    {{ fx_rate_asof('wanted_rates', 'fx_rates') }}
),

converted as (
    select
        {{ parsed }}.*,
        case
            when {{ parsed }}.currency = '{{ reporting_currency() }}' then cast(1 as decimal(18, 8))
            else fx_lookup.rate_to_reporting
        end as fx_rate
    from {{ parsed }}
    left join fx_lookup
        on fx_lookup.currency = {{ parsed }}.currency
        and fx_lookup.rate_day = cast({{ parsed }}.{{ at_column }} as date)
)
{%- endmacro %}


{#- The last checks of a converted row (after `convert_to_reporting`): a rate must exist and the
    converted amount must be plausible. They must stay the last ones: a row quarantined by an
    earlier check never depends on its rate (`files_with_changed_fx_rates`). -#}
{% macro fx_checks() -%}
    {%- set no_rate, implausible = segmentwerk.fx_check_reasons() %}
    when fx_rate is null then '{{ no_rate }}'
    when amount_original * fx_rate > {{ var('max_order_amount') }} then '{{ implausible }}'
{%- endmacro %}

{#- The quarantine reasons of `fx_checks`, in its order. -#}
{% macro fx_check_reasons() -%}
    {{ return(['no fx rate for currency', 'implausible amount']) }}
{%- endmacro %}

{#-
    files_with_changed_fx_rates(at_column)

    For an incremental landing model that converts with `convert_to_reporting` (see
    incremental_landing.sql, `recheck`): the files of `this` holding a row whose stored
    `fx_rate` is not the rate the fx table gives now (a late or corrected rate file). A new
    month's rates change nothing before their date, so usually this returns no file. Rows an
    earlier check quarantined (a date in the future has a new as-of rate every month) keep the
    values of their load: their verdict does not depend on the rate.
-#}
{% macro files_with_changed_fx_rates(at_column) -%}
    with

    loaded_days as (
        select
            source_file,
            currency,
            cast({{ at_column }} as date) as rate_day,
            fx_rate
        from {{ this }}
        where currency is not null
            and {{ at_column }} is not null
            and currency <> '{{ reporting_currency() }}'
            and (
                {{ passed_own_checks('quarantine_reason') }}
                or quarantine_reason in ('{{ segmentwerk.fx_check_reasons() | join("', '") }}')
            )
        group by source_file, currency, cast({{ at_column }} as date), fx_rate
    ),

    wanted_rates as (
        select distinct currency, rate_day from loaded_days
    ),

    fx_rates as (
        select * from {{ ref('stg_finance__fx_rates') }}
    ),

    fx_lookup as (
        {{ fx_rate_asof('wanted_rates', 'fx_rates') }}
    )

    select distinct loaded_days.source_file
    from loaded_days
    left join fx_lookup
        on fx_lookup.currency = loaded_days.currency
        and fx_lookup.rate_day = loaded_days.rate_day
    where coalesce(loaded_days.fx_rate, -1) <> coalesce(fx_lookup.rate_to_reporting, -1)
{%- endmacro %}
