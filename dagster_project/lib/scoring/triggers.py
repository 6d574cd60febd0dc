"""`marts.customer_triggers`: dated reasons to contact a customer, as of a snapshot's last day.

- `birthday`: the customer's birthday falls in the next `birthday_horizon_days` after the as-of
  day. The published warehouse carries no birth dates (the contract), and a birthday trigger
  with the birthday as its due date would publish day and month of birth for every customer
  over a year of snapshots. So `due_date` is the Monday of the birthday's week: enough to plan
  a weekly campaign, while the day itself stays in the internal CRM data. That Monday can lie
  up to six days before the as-of day when the birthday is early in the window.
- `contract_end`: the CRM contract ends in the next `contract_end_horizon_days`; the due date
  is the contract's end (a business date, not personal data).
- `win_back`: a repeat buyer whose usual gap between purchases is long overdue: more than
  `win_back_gap_factor` times the mean gap and more than `win_back_min_days` since the last
  purchase, but not lapsed for longer than `win_back_max_recency_days`. The due date is the
  day the next purchase was expected (the last purchase plus the mean gap).

Only data dated on or before the as-of day counts: the CRM version of each customer number
last updated by then, and the snapshot's own `customer_scores`.

Every row carries `marketing_opt_in`, the consent of that CRM version (false for customers
without a CRM record, who never gave one). Birthday and win-back mails are marketing: act on
them only where it is true. A contract-end notice is a service message about the customer's
own contract; the flag tells whether it may carry an offer.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import polars as pl

from dagster_project.lib.months import month_end

TRIGGER_SCHEMA: dict[str, pl.DataType] = {
    "snapshot_month": pl.Date(),
    "customer_id": pl.Utf8(),
    "trigger": pl.Utf8(),
    "due_date": pl.Date(),
    "detail": pl.Utf8(),
    "marketing_opt_in": pl.Boolean(),
}


@dataclass(frozen=True)
class TriggerParameters:
    birthday_horizon_days: int = 30
    contract_end_horizon_days: int = 60
    win_back_min_frequency: int = 1  # repeat purchase days: one gap is needed to expect another
    win_back_gap_factor: float = 2.0
    win_back_min_days: int = 30
    win_back_max_recency_days: int = 365


def load_crm_as_of(con: duckdb.DuckDBPyConnection, snapshot_month: date) -> pl.DataFrame:
    """Per CRM customer number, its latest version updated by the as-of day, for the customers
    of the snapshot: customer_id, customer_no, birth_date, contract_end_date, updated_at,
    marketing_opt_in.

    Internal: the frame holds birth dates and never leaves the trigger functions.
    """
    day_after = month_end(snapshot_month) + timedelta(days=1)
    return con.sql(
        """
        with versions as (
            select
                customer_no, birth_date, contract_end_date, updated_at, marketing_opt_in,
                row_number() over (
                    partition by customer_no
                    order by updated_at desc, source_file desc, source_line desc
                ) as recency_rank
            from staging.stg_crm__customers
            where updated_at < $day_after
        )
        select map.customer_id, versions.customer_no, versions.birth_date,
            versions.contract_end_date, versions.updated_at, versions.marketing_opt_in
        from versions
        inner join marts.customer_identity_map as map
            on map.source_system = 'crm' and map.source_key = versions.customer_no
        inner join marts.customer_scores as scores
            on scores.customer_id = map.customer_id and scores.snapshot_month = $month
        where versions.recency_rank = 1
        order by map.customer_id, versions.customer_no
        """,
        params={"month": snapshot_month, "day_after": day_after},
    ).pl()


def load_trigger_scores(con: duckdb.DuckDBPyConnection, snapshot_month: date) -> pl.DataFrame:
    """The snapshot's purchase history per customer, as the win-back rule needs it."""
    return con.sql(
        """
        select customer_id, frequency, recency_days, tenure_days, last_purchase_day
        from marts.customer_scores
        where snapshot_month = $month
        order by customer_id
        """,
        params={"month": snapshot_month},
    ).pl()


def _birthday_in(year: int) -> pl.Expr:
    """The birthday in `year`; 29 February is celebrated on 28 February in common years."""
    birth = pl.col("birth_date")
    day = birth.dt.day()
    if not calendar.isleap(year):
        day = pl.when((birth.dt.month() == 2) & (day == 29)).then(28).otherwise(day)
    return pl.date(year, birth.dt.month(), day)


def birthday_triggers(crm: pl.DataFrame, as_of: date, horizon_days: int) -> pl.DataFrame:
    """Customers whose birthday is within `horizon_days` after `as_of`; due on its week's Monday.

    A customer with several CRM numbers has the birth date of the latest updated version.
    """
    this_year, next_year = _birthday_in(as_of.year), _birthday_in(as_of.year + 1)
    birthday = pl.when(this_year > as_of).then(this_year).otherwise(next_year)
    # weekday(): Monday = 1 … Sunday = 7
    week_start = pl.col("birthday") - pl.duration(days=pl.col("birthday").dt.weekday() - 1)
    return (
        crm.sort("updated_at", "customer_no", descending=True)
        .unique("customer_id", keep="first")
        .filter(pl.col("birth_date").is_not_null())
        .with_columns(birthday.alias("birthday"))
        .filter(pl.col("birthday") <= as_of + timedelta(days=horizon_days))
        .select(
            "customer_id",
            pl.lit("birthday").alias("trigger"),
            week_start.alias("due_date"),
            pl.concat_str(
                [pl.lit("birthday in the week starting "), week_start.dt.to_string("%Y-%m-%d")]
            ).alias("detail"),
        )
    )


def contract_end_triggers(crm: pl.DataFrame, as_of: date, horizon_days: int) -> pl.DataFrame:
    """Contracts ending within `horizon_days` after `as_of`; one row per customer and end date."""
    end = pl.col("contract_end_date")
    days_left = (end - pl.lit(as_of)).dt.total_days()
    return (
        crm.filter(end > as_of, end <= as_of + timedelta(days=horizon_days))
        .unique(["customer_id", "contract_end_date"])
        .select(
            "customer_id",
            pl.lit("contract_end").alias("trigger"),
            end.alias("due_date"),
            pl.format("contract ends {}, in {} days", end, days_left).alias("detail"),
        )
    )


def win_back_triggers(scores: pl.DataFrame, params: TriggerParameters) -> pl.DataFrame:
    """Repeat buyers overdue for their next purchase, before they have lapsed for long."""
    recency = pl.col("recency_days")
    # the mean gap between purchase days: the span from first to last purchase per repeat day
    mean_gap = (pl.col("tenure_days") - recency) / pl.col("frequency")
    expected = pl.col("last_purchase_day") + pl.duration(days=mean_gap.round(0).cast(pl.Int64))
    return scores.filter(
        pl.col("frequency") >= params.win_back_min_frequency,
        recency <= params.win_back_max_recency_days,
        recency > params.win_back_min_days,
        recency > params.win_back_gap_factor * mean_gap,
    ).select(
        "customer_id",
        pl.lit("win_back").alias("trigger"),
        expected.alias("due_date"),
        pl.format(
            "last purchase {} days ago; buys every {} days on average",
            recency,
            mean_gap.round(0).cast(pl.Int64),
        ).alias("detail"),
    )


def customer_triggers(
    crm: pl.DataFrame,
    scores: pl.DataFrame,
    snapshot_month: date,
    params: TriggerParameters | None = None,
) -> pl.DataFrame:
    """All triggers of the snapshot month, in the schema of `marts.customer_triggers`."""
    params = params or TriggerParameters()
    as_of = month_end(snapshot_month)
    parts = [
        birthday_triggers(crm, as_of, params.birthday_horizon_days),
        contract_end_triggers(crm, as_of, params.contract_end_horizon_days),
        win_back_triggers(scores, params),
    ]
    consent = pl.col("marketing_opt_in") if "marketing_opt_in" in crm.columns else pl.lit(None)
    # one consent per customer: the latest updated CRM version (as in birthday_triggers)
    consents = (
        crm.sort("updated_at", "customer_no", descending=True)
        .unique("customer_id", keep="first")
        .select("customer_id", consent.cast(pl.Boolean).alias("marketing_opt_in"))
    )
    return (
        pl.concat([part.cast({"due_date": pl.Date}) for part in parts])
        .join(consents, on="customer_id", how="left")
        .with_columns(
            pl.lit(snapshot_month).alias("snapshot_month"),
            pl.col("marketing_opt_in").fill_null(False),
        )
        .select(list(TRIGGER_SCHEMA))
        .cast(TRIGGER_SCHEMA)
        .sort("trigger", "due_date", "customer_id")
    )
