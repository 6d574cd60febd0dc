"""Value scores and segments as pure functions: the rules users rely on."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from dagster_project.lib.scoring.clusters import align_to_previous, assign_clusters, fit_clusters
from dagster_project.lib.scoring.segment_rules import assign_segments, load_rules
from dagster_project.lib.scoring.value_scores import classify_abc, quintile_score, score_rfm


def _facts(**columns) -> pl.DataFrame:
    return pl.DataFrame(columns, strict=False)


def test_quintile_scores_give_equal_values_equal_scores() -> None:
    frame = pl.DataFrame({"v": [0, 0, 0, 0, 0, 0, 1, 2, 3, 4]})
    scores = frame.select(quintile_score(pl.col("v")).alias("score"))["score"].to_list()
    assert scores[:6] == [1] * 6  # the tie is never cut
    assert scores[6:] == [4, 4, 5, 5]
    assert min(scores) >= 1 and max(scores) <= 5


def test_recency_scores_reward_recent_buyers() -> None:
    facts = _facts(
        customer_id=["a", "b", "c", "d", "e"],
        order_count=[1, 1, 1, 1, 0],
        recency_days=[1, 10, 100, 1000, None],
        frequency=[0, 0, 0, 0, None],
        monetary_total=[10.0, 10.0, 10.0, 10.0, 0.0],
    )
    scored = score_rfm(facts)
    r = dict(zip(scored["customer_id"], scored["r_score"], strict=True))
    assert r["a"] > r["b"] > r["c"] > r["d"]
    assert r["e"] is None  # no purchase, no score


def test_abc_classes_follow_the_revenue_shares() -> None:
    facts = _facts(
        customer_id=[f"c{i}" for i in range(6)],
        monetary_total=[800.0, 100.0, 50.0, 30.0, 20.0, 0.0],
    )
    classes = dict(
        zip(*classify_abc(facts).select("customer_id", "abc_class").to_dict().values(), strict=True)
    )
    # 800 of 1000 alone make the top 80 %; the next 15 % (up to 950) are B.
    assert classes == {"c0": "A", "c1": "B", "c2": "B", "c3": "C", "c4": "C", "c5": "C"}
    # The customer who crosses a line still belongs to the class below it.
    crossing = classify_abc(facts, a_share=0.85, b_share=0.10)
    assert crossing.filter(pl.col("customer_id") == "c1")["abc_class"].item() == "A"
    with pytest.raises(ValueError, match="ABC shares"):
        classify_abc(facts, a_share=0.9, b_share=0.2)


def _segment_features(n: int, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    orders = rng.poisson(2, n)
    raw = pl.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "order_count": orders,
            "frequency": np.maximum(orders - 1, 0),
            "recency_days": rng.integers(0, 700, n),
            "tenure_days": rng.integers(0, 900, n),
            "known_days": rng.integers(0, 900, n),
            "orders_12m": rng.integers(0, 8, n),
            "revenue_12m": rng.gamma(2, 50, n),
            "monetary_total": rng.gamma(2, 100, n),
            "p_alive": rng.uniform(0, 1, n),
            "expected_orders_12m": rng.gamma(1, 1, n),
            "predicted_clv_12m": rng.gamma(1, 80, n),
            "clv_percentile": rng.uniform(0, 1, n),
            "revenue_percentile": rng.uniform(0, 1, n),
            "abc_class": ["B"] * n,
        }
    )
    # Customers without a purchase have no behaviour: null, as in marts.customer_scores.
    buyer = pl.col("order_count") > 0
    behaviour = [c for c in raw.columns if c not in ("customer_id", "order_count", "known_days")]
    return raw.with_columns(
        [pl.when(buyer).then(pl.col(c)).alias(c) for c in behaviour]
    ).with_columns(
        pl.col("orders_12m").fill_null(0),
        pl.col("revenue_12m").fill_null(0.0),
        pl.col("monetary_total").fill_null(0.0),
        pl.col("abc_class").fill_null("C"),
    )


def test_every_customer_gets_exactly_one_stage_segment_and_reason() -> None:
    segmented = assign_segments(_segment_features(3000), load_rules(), "EUR")
    assert segmented.height == 3000
    for column in ("lifecycle_stage", "value_tier", "segment", "segment_reason"):
        assert segmented[column].null_count() == 0, column
    assert (segmented["segment_reason"].str.len_chars() > 10).all()
    stages = set(segmented["lifecycle_stage"])
    assert {"prospect", "new", "lapsed", "at_risk", "active"} <= stages
    prospects = segmented.filter(pl.col("order_count") == 0)
    assert set(prospects["lifecycle_stage"]) == {"prospect"}


def test_a_segment_reason_quotes_the_customers_own_numbers() -> None:
    features = _segment_features(1).with_columns(
        order_count=pl.lit(20),
        frequency=pl.lit(14),
        recency_days=pl.lit(5),
        tenure_days=pl.lit(900),
        orders_12m=pl.lit(14),
        p_alive=pl.lit(0.99),
        predicted_clv_12m=pl.lit(2340.0),
        clv_percentile=pl.lit(0.97),
    )
    row = assign_segments(features, load_rules(), "EUR").row(0, named=True)
    assert row["segment"] == "VIP"
    assert "14 purchases in the last 12 months (≥ 4)" in row["segment_reason"]
    assert "EUR 2,340" in row["segment_reason"] and "top 3 %" in row["segment_reason"]


def test_scoring_one_customer_equals_scoring_them_among_many() -> None:
    """The real-time path: the same pure function on one row gives the same answer."""
    many = assign_segments(_segment_features(500, seed=3), load_rules(), "EUR")
    one = assign_segments(_segment_features(500, seed=3).slice(123, 1), load_rules(), "EUR")
    assert one.row(0) == many.row(123)


def _behaviour(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 3, n)
    return pl.DataFrame(
        {
            "order_count": np.choose(group, [1, 8, 3]) + rng.poisson(1, n),
            "avg_order_value": np.choose(group, [30.0, 60.0, 250.0]) * rng.lognormal(0, 0.2, n),
            "share_app": np.choose(group, [0.1, 0.9, 0.2]) + rng.normal(0, 0.05, n),
        }
    )


FEATURES = ("order_count", "avg_order_value", "share_app")


def test_clusters_are_deterministic_named_and_keep_their_ids_month_to_month() -> None:
    january = fit_clusters(_behaviour(3000, 1), FEATURES, k_min=2, k_max=5, seed=7)
    again = fit_clusters(_behaviour(3000, 1), FEATURES, k_min=2, k_max=5, seed=7)
    assert january.k == 3  # the three behaviours are found by silhouette
    assert np.array_equal(january.centroids, again.centroids)
    assert len(set(january.names.values())) == january.k
    assert all("cluster" not in name for name in january.names.values())

    # February: same people, rows shuffled so that k-means sees them in another order.
    february = fit_clusters(_behaviour(3000, 2), FEATURES, k_min=2, k_max=5, seed=11)
    aligned = align_to_previous(february, list(january.cluster_ids), january.raw_centroids())
    probe = _behaviour(300, 3)
    assert (assign_clusters(aligned, probe) == assign_clusters(january, probe)).mean() > 0.95


def test_centroids_fit_on_a_sample_place_customers_like_those_fit_on_everyone() -> None:
    everyone = fit_clusters(_behaviour(3000, 1), FEATURES, k_min=2, k_max=5, seed=7)
    sampled = fit_clusters(_behaviour(3000, 1), FEATURES, k_min=2, k_max=5, seed=7, fit_size=600)
    assert sampled.k == everyone.k
    assert not np.array_equal(sampled.centroids, everyone.centroids)  # the sample was used
    probe = _behaviour(500, 3)
    assert (assign_clusters(sampled, probe) == assign_clusters(everyone, probe)).mean() > 0.97


def test_a_grown_k_gets_fresh_ids() -> None:
    small = fit_clusters(_behaviour(2000, 1), FEATURES, k_min=2, k_max=2, seed=7)
    large = fit_clusters(_behaviour(2000, 1), FEATURES, k_min=3, k_max=3, seed=7)
    aligned = align_to_previous(large, list(small.cluster_ids), small.raw_centroids())
    assert sorted(aligned.cluster_ids) == [1, 2, 3]


def test_value_tiers_can_follow_the_abc_classes() -> None:
    rules = load_rules()
    abc_rules = rules.model_copy(
        update={"value_tier": rules.value_tier.model_copy(update={"feature": "abc_class"})}
    )
    features = _segment_features(200, seed=5).with_columns(
        abc_class=pl.when(pl.col("order_count") > 2).then(pl.lit("A")).otherwise(pl.lit("C"))
    )
    tiers = assign_segments(features, abc_rules, "EUR").select("order_count", "value_tier")
    assert set(tiers.filter(pl.col("order_count") > 2)["value_tier"]) == {"high"}
    assert set(tiers.filter(pl.col("order_count") == 0)["value_tier"]) == {"none"}
    assert set(tiers.filter(pl.col("order_count").is_between(1, 2))["value_tier"]) == {"low"}
