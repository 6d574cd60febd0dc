"""Monthly value scores and segments: thin assets over `dagster_project.lib.scoring`."""

from datetime import date

import dagster as dg
import polars as pl

from dagster_project.defs.jobs import monthly_partitions
from dagster_project.defs.unification.dbt_models import dbt_model_key
from dagster_project.lib.asset_keys import (
    CLV_MODEL_PARAMS,
    CUSTOMER_SCORES,
    CUSTOMER_SEGMENTS,
    ERASURE_LOG,
)
from dagster_project.lib.months import month_end
from dagster_project.lib.scoring.customer_scores import ScoringParameters, score_customers
from dagster_project.lib.scoring.purchases import (
    customer_purchase_facts,
    keep_purchase_facts,
    stored_purchase_facts,
)
from dagster_project.lib.scoring.segmentation import (
    SegmentationParameters,
    load_previous_clusters,
    save_clusters,
    segment_customers,
)
from dagster_project.lib.warehouse import BUILD_DB_POOL, WarehouseResource, replace_snapshot

UNIFIED = [
    dbt_model_key("fct_orders"),
    dbt_model_key("dim_customers"),
    dbt_model_key("fct_web_activity"),
    ERASURE_LOG,  # the right to be forgotten is applied before anything is scored
]


class ScoringConfig(dg.Config):
    """Tunables of the value scores (visible in the launchpad)."""

    abc_a_share: float = 0.80
    abc_b_share: float = 0.15
    clv_time_unit: str = "week"
    clv_horizon_months: float = 12.0
    monthly_discount_rate: float = 0.0
    margin: float = 1.0


class SegmentationConfig(dg.Config):
    """Tunables of the clustering; the segment rules live in `config/segmentation.yaml`."""

    k_min: int = 3
    k_max: int = 8
    silhouette_sample: int = 5000
    seed: int = 42


def _snapshot_month(context: dg.AssetExecutionContext) -> date:
    return date.fromisoformat(context.partition_key)


def _markdown(frame: pl.DataFrame, limit: int = 20) -> dg.MetadataValue:
    head = frame.head(limit)
    lines = ["| " + " | ".join(head.columns) + " |", "|" + "---|" * len(head.columns)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in head.iter_rows()]
    return dg.MetadataValue.md("\n".join(lines))


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            CUSTOMER_SCORES,
            deps=UNIFIED,
            description="RFM, ABC, historical and predicted CLV per customer and snapshot month.",
        ),
        dg.AssetSpec(
            CLV_MODEL_PARAMS,
            deps=UNIFIED,
            description="BG/NBD and Gamma-Gamma maximum-likelihood parameters per snapshot month.",
        ),
    ],
    partitions_def=monthly_partitions,
    group_name="scoring",
    pool=BUILD_DB_POOL,
)
def customer_scores(
    context: dg.AssetExecutionContext, config: ScoringConfig, warehouse: WarehouseResource
):
    month = _snapshot_month(context)
    params = ScoringParameters(**config.model_dump())
    with warehouse.writer(context.log), warehouse.build_connection() as con:
        facts = customer_purchase_facts(con, month_end(month))
        scored = score_customers(facts, month, params)
        model_params = scored.model_params(month)
        keep_purchase_facts(con, facts, month)
        replace_snapshot(con, "marts.customer_scores", scored.scores, month)
        replace_snapshot(con, "marts.clv_model_params", model_params, month)

    bg, gg = scored.bg_nbd, scored.gamma_gamma
    if bg.fallback or gg.fallback:
        context.log.warning(
            f"CLV fallback in use: BG/NBD {bg.fallback or 'fitted'} ({bg.message}); "
            f"Gamma-Gamma {gg.fallback or 'fitted'} ({gg.message})"
        )
    scores = scored.scores
    buyers = scores.filter(pl.col("order_count") > 0)
    yield dg.MaterializeResult(
        asset_key=CUSTOMER_SCORES,
        metadata={
            "snapshot_month": str(month),
            "customers": scores.height,
            "buyers": buyers.height,
            "revenue_to_date": float(scores["monetary_total"].sum() or 0),
            "predicted_clv_12m_total": float(buyers["predicted_clv_12m"].sum() or 0),
            "abc_classes": _markdown(
                scores.group_by("abc_class")
                .agg(pl.len().alias("customers"), pl.col("monetary_total").sum().round(0))
                .sort("abc_class")
            ),
        },
    )
    yield dg.MaterializeResult(
        asset_key=CLV_MODEL_PARAMS,
        metadata={
            "bg_nbd": bg.fallback or "maximum likelihood",
            "gamma_gamma": gg.fallback or "maximum likelihood",
            "parameters": _markdown(
                model_params.select(
                    "model", "parameter", "value", "time_unit", "log_likelihood", "customers_fitted"
                )
            ),
        },
    )


@dg.asset(
    key=CUSTOMER_SEGMENTS,
    deps=[CUSTOMER_SCORES, *UNIFIED],
    partitions_def=monthly_partitions,
    group_name="segmentation",
    pool=BUILD_DB_POOL,
    description="Lifecycle stage, value tier, behavioural cluster and business segment, with "
    "the reason in words, per customer and snapshot month.",
)
def customer_segments(
    context: dg.AssetExecutionContext, config: SegmentationConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    month = _snapshot_month(context)
    params = SegmentationParameters(**config.model_dump())
    settings = warehouse.settings
    with warehouse.writer(context.log), warehouse.build_connection() as con:
        facts = stored_purchase_facts(con, month)
        scores = con.sql(
            "select * from marts.customer_scores where snapshot_month = $month",
            params={"month": month},
        ).pl()
        previous = load_previous_clusters(con, month)
        result = segment_customers(
            scores, facts, previous, params, currency=settings.reporting_currency
        )
        replace_snapshot(con, "marts.customer_segments", result.segments, month)
        save_clusters(con, month, result.clusters)

    sizes = (
        result.segments.group_by("segment")
        .agg(pl.len().alias("customers"))
        .sort("customers", descending=True)
    )
    return dg.MaterializeResult(
        metadata={
            "snapshot_month": str(month),
            "customers": result.segments.height,
            "k": result.clusters.k if result.clusters else 0,
            "silhouette": round(result.clusters.silhouette, 4) if result.clusters else 0.0,
            "segments": _markdown(sizes),
            "clusters": _markdown(result.cluster_summary()),
        }
    )
