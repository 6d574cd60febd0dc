"""`marts.customer_segments` for one snapshot: rules + clusters, joined per customer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np
import polars as pl

from dagster_project.lib.relations import table_exists
from dagster_project.lib.scoring.clusters import (
    ClusterModel,
    align_to_previous,
    assign_clusters,
    fit_clusters,
)
from dagster_project.lib.scoring.segment_rules import assign_segments, load_rules

CLUSTER_FEATURES = (
    "order_count",
    "recency_days",
    "avg_order_value",
    "tenure_days",
    "share_web",
    "share_app",
    "share_store",
    "share_mobile",
    "web_sessions_12m",
    "category_breadth",
    "top_category_share",
)
# Customers without a purchase have no behaviour to cluster on; they form their own group.
NO_PURCHASE_CLUSTER = "no purchase yet"
CENTROIDS_TABLE = "model.cluster_centroids"


@dataclass(frozen=True)
class SegmentationParameters:
    k_min: int = 3
    k_max: int = 8
    silhouette_sample: int = 5000
    seed: int = 42


@dataclass(frozen=True)
class PreviousClusters:
    ids: list[int]
    raw_centroids: np.ndarray  # k × features, in the transformed feature space
    feature_names: tuple[str, ...]


@dataclass(frozen=True)
class SegmentedSnapshot:
    segments: pl.DataFrame
    clusters: ClusterModel | None

    def cluster_summary(self) -> pl.DataFrame:
        return (
            self.segments.group_by("cluster_id", "cluster_name")
            .agg(pl.len().alias("customers"))
            .sort("cluster_id", nulls_last=True)
        )


def segment_customers(
    scores: pl.DataFrame,
    facts: pl.DataFrame,
    previous: PreviousClusters | None,
    params: SegmentationParameters = SegmentationParameters(),
    *,
    currency: str = "EUR",
) -> SegmentedSnapshot:
    mix = facts.select("customer_id", *[c for c in CLUSTER_FEATURES if c not in scores.columns])
    features = scores.join(mix, on="customer_id", how="left", maintain_order="left")
    ruled = assign_segments(features, load_rules(), currency)

    buyers = features.filter(pl.col("order_count") > 0)
    model: ClusterModel | None = None
    cluster_ids = pl.Series("cluster_id", [], dtype=pl.Int32)
    if buyers.height >= 2:
        model = fit_clusters(
            buyers,
            CLUSTER_FEATURES,
            k_min=params.k_min,
            k_max=params.k_max,
            sample_size=params.silhouette_sample,
            seed=params.seed,
        )
        if previous is not None and previous.feature_names == CLUSTER_FEATURES:
            model = align_to_previous(model, previous.ids, previous.raw_centroids)
        cluster_ids = pl.Series("cluster_id", assign_clusters(model, buyers), dtype=pl.Int32)
    names = model.names if model else {}
    assigned = (
        buyers.select("customer_id")
        .with_columns(cluster_ids)
        .with_columns(
            pl.col("cluster_id")
            .replace_strict(names, default=None, return_dtype=pl.Utf8)
            .alias("cluster_name")
        )
    )
    segments = (
        ruled.join(assigned, on="customer_id", how="left", maintain_order="left")
        .with_columns(pl.col("cluster_name").fill_null(NO_PURCHASE_CLUSTER))
        .select(
            "snapshot_month",
            "customer_id",
            "lifecycle_stage",
            "value_tier",
            "cluster_id",
            "cluster_name",
            "segment",
            "segment_reason",
        )
    )
    return SegmentedSnapshot(segments, model)


def load_previous_clusters(con: duckdb.DuckDBPyConnection, month: date) -> PreviousClusters | None:
    """The centroids of the latest snapshot before `month`, to keep cluster ids stable."""
    if not table_exists(con, *CENTROIDS_TABLE.split(".")):
        return None
    rows = con.execute(
        f"""
        select cluster_id, feature, value from {CENTROIDS_TABLE}
        where snapshot_month = (
            select max(snapshot_month) from {CENTROIDS_TABLE} where snapshot_month < ?
        )
        order by cluster_id, feature_index
        """,
        [month],
    ).fetchall()
    if not rows:
        return None
    ids = sorted({r[0] for r in rows})
    features = tuple(dict.fromkeys(r[1] for r in rows))
    values = np.array([r[2] for r in rows], dtype=float).reshape(len(ids), len(features))
    return PreviousClusters(ids, values, features)


def save_clusters(con: duckdb.DuckDBPyConnection, month: date, model: ClusterModel | None) -> None:
    con.execute("create schema if not exists model")
    con.execute(
        f"""
        create table if not exists {CENTROIDS_TABLE} (
            snapshot_month date, cluster_id integer, cluster_name varchar,
            feature_index integer, feature varchar, value double, silhouette double
        )
        """
    )
    con.execute(f"delete from {CENTROIDS_TABLE} where snapshot_month = ?", [month])
    if model is None:
        return
    raw = model.raw_centroids()
    rows = [
        (month, cid, model.names[cid], j, name, float(raw[i, j]), float(model.silhouette))
        for i, cid in enumerate(model.cluster_ids)
        for j, name in enumerate(model.feature_names)
    ]
    con.executemany(f"insert into {CENTROIDS_TABLE} values (?, ?, ?, ?, ?, ?, ?)", rows)
