"""`marts.customer_scores` for one snapshot: RFM, ABC, historical and predicted CLV.

Input: the per-customer facts of `purchases.customer_purchase_facts` (nothing dated after the
as-of day). Output: one row per customer with the contract's columns plus the percentiles the
segment rules use, and the fitted CLV models for `marts.clv_model_params`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from dagster_project.lib import clv
from dagster_project.lib.scoring.value_scores import classify_abc, score_rfm

DAYS_PER_UNIT = {"day": 1.0, "week": 7.0}


@dataclass(frozen=True)
class ScoringParameters:
    abc_a_share: float = 0.80
    abc_b_share: float = 0.15
    clv_time_unit: str = "week"
    clv_horizon_months: float = 12.0
    monthly_discount_rate: float = 0.0
    margin: float = 1.0  # share of revenue that is margin; 1.0 = CLV in revenue


@dataclass(frozen=True)
class ScoredSnapshot:
    scores: pl.DataFrame
    bg_nbd: clv.BgNbdFit
    gamma_gamma: clv.GammaGammaFit

    def model_params(self, snapshot_month: date) -> pl.DataFrame:
        rows = clv.params_rows(self.bg_nbd, snapshot_month) + clv.params_rows(
            self.gamma_gamma, snapshot_month
        )
        return pl.DataFrame(
            rows,
            schema_overrides={
                "value": pl.Float64,
                "time_unit": pl.Utf8,
                "log_likelihood": pl.Float64,
                "fallback": pl.Utf8,
            },
        )


def _percentile(values: pl.Expr) -> pl.Expr:
    """Share of customers with a value at or below this one: 1.0 for the most valuable."""
    return values.rank(method="max") / values.count()


def score_customers(
    facts: pl.DataFrame, snapshot_month: date, params: ScoringParameters = ScoringParameters()
) -> ScoredSnapshot:
    unit = DAYS_PER_UNIT[params.clv_time_unit]
    buyers = facts.filter(pl.col("order_count") > 0)
    x = buyers["frequency"].cast(pl.Float64).to_numpy()
    t_x = buyers["t_x_days"].cast(pl.Float64).to_numpy() / unit
    tenure = buyers["tenure_days"].cast(pl.Float64).to_numpy() / unit
    mean_spend = buyers["mean_repeat_spend"].cast(pl.Float64).fill_null(0.0).to_numpy()

    bg = clv.fit_bg_nbd(x, t_x, tenure, time_unit=params.clv_time_unit)
    repeat = x > 0
    first_spend = (buyers["monetary_total"] / buyers["order_count"]).to_numpy()
    gg = clv.fit_gamma_gamma(
        x[repeat],
        mean_spend[repeat],
        # Nobody bought twice yet: the mean first order stands in for the spend per purchase.
        fallback_mean_spend=float(np.mean(first_spend)) if len(first_spend) else 0.0,
    )
    prediction = clv.predict_clv(
        bg,
        gg,
        x,
        t_x,
        tenure,
        mean_spend,
        horizon=params.clv_horizon_months,
        monthly_discount_rate=params.monthly_discount_rate,
        margin=params.margin,
    )
    predicted = buyers.select("customer_id").with_columns(
        pl.Series("p_alive", prediction.p_alive),
        pl.Series("expected_orders_12m", prediction.expected_orders),
        pl.Series("predicted_clv_12m", prediction.clv),
    )

    scored = classify_abc(
        score_rfm(facts), a_share=params.abc_a_share, b_share=params.abc_b_share
    ).join(predicted, on="customer_id", how="left", maintain_order="left")
    is_buyer = pl.col("order_count") > 0
    scores = scored.with_columns(
        pl.lit(snapshot_month).alias("snapshot_month"),
        pl.when(is_buyer)
        .then(pl.col("monetary_total") / pl.col("order_count"))
        .alias("avg_order_value"),
        (pl.col("monetary_total") * params.margin).alias("clv_historical"),
        _percentile(pl.when(is_buyer).then(pl.col("predicted_clv_12m"))).alias("clv_percentile"),
        _percentile(pl.when(is_buyer).then(pl.col("revenue_12m"))).alias("revenue_percentile"),
    ).select(
        "snapshot_month",
        "customer_id",
        "recency_days",
        "frequency",
        "order_count",
        "monetary_total",
        "avg_order_value",
        "r_score",
        "f_score",
        "m_score",
        "abc_class",
        "clv_historical",
        "p_alive",
        "expected_orders_12m",
        "predicted_clv_12m",
        "tenure_days",
        "known_days",
        "orders_12m",
        "revenue_12m",
        "first_purchase_day",
        "last_purchase_day",
        "clv_percentile",
        "revenue_percentile",
    )
    return ScoredSnapshot(scores, bg, gg)
