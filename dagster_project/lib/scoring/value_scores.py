"""RFM quintile scores and ABC (Pareto) classes: pure polars functions.

They take the per-customer facts of `purchases.customer_purchase_facts` and work the same on one
customer's row as on a million.
"""

from __future__ import annotations

import polars as pl


def quintile_score(values: pl.Expr, *, higher_is_better: bool = True) -> pl.Expr:
    """1–5 by quintiles of the value's rank among customers with a value.

    Ties rule (deterministic, documented): equal values share the lowest rank of their group
    (`rank(method="min")`), so equal values always get the same score; the score is
    1 + floor(5 · (rank − 1) / n). A large group of equal values (e.g. the one-time buyers'
    frequency of 0) therefore stays in one score instead of being cut arbitrarily.
    """
    key = values if higher_is_better else -values
    rank = key.rank(method="min")
    n = key.count()
    return (1 + ((rank - 1) * 5 / n).floor()).clip(1, 5).cast(pl.Int8)


def score_rfm(facts: pl.DataFrame) -> pl.DataFrame:
    """Adds r_score, f_score, m_score (null for customers without a purchase)."""
    buyers = facts.filter(pl.col("order_count") > 0).select(
        "customer_id",
        quintile_score(pl.col("recency_days"), higher_is_better=False).alias("r_score"),
        quintile_score(pl.col("frequency")).alias("f_score"),
        quintile_score(pl.col("monetary_total")).alias("m_score"),
    )
    return facts.join(buyers, on="customer_id", how="left", maintain_order="left")


def classify_abc(
    facts: pl.DataFrame, *, a_share: float = 0.80, b_share: float = 0.15
) -> pl.DataFrame:
    """A: the customers making the top `a_share` of revenue, B: the next `b_share`, C: the rest.

    Customers are ordered by revenue (then id, so the order is deterministic); a customer belongs
    to A while the revenue *before* them is below the A threshold, so the customer who crosses
    the line is still A. Customers without revenue are C.
    """
    if not 0 < a_share < 1 or not 0 <= b_share < 1 - a_share + 1e-12:
        raise ValueError(
            f"ABC shares must satisfy 0 < A < 1 and A + B ≤ 1, got {a_share}, {b_share}"
        )
    total = facts["monetary_total"].sum()
    ordered = facts.select("customer_id", "monetary_total").sort(
        ["monetary_total", "customer_id"], descending=[True, False]
    )
    share_before = (
        (ordered["monetary_total"].cum_sum() - ordered["monetary_total"]) / total
        if total and total > 0
        else pl.Series([1.0] * ordered.height)
    )
    labelled = ordered.with_columns(share_before.alias("_share_before")).with_columns(
        pl.when(pl.col("monetary_total") <= 0)
        .then(pl.lit("C"))
        .when(pl.col("_share_before") < a_share)
        .then(pl.lit("A"))
        .when(pl.col("_share_before") < a_share + b_share)
        .then(pl.lit("B"))
        .otherwise(pl.lit("C"))
        .alias("abc_class")
    )
    return facts.join(
        labelled.select("customer_id", "abc_class"),
        on="customer_id",
        how="left",
        maintain_order="left",
    )
