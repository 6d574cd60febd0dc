"""Activation: lookalike scores of prospects, dated marketing triggers and the audience exports,
per snapshot month.

Thin assets over `dagster_project.lib.scoring.lookalikes`, `.triggers` and
`dagster_project.lib.audience_exports`.
"""

from datetime import date

import dagster as dg
import polars as pl

from dagster_project.defs.jobs import monthly_partitions
from dagster_project.defs.unification.dbt_models import dbt_model_key
from dagster_project.lib.asset_keys import (
    AUDIENCE_EXPORTS,
    CUSTOMER_SCORES,
    CUSTOMER_SEGMENTS,
    CUSTOMER_TRIGGERS,
    ERASURE_LOG,
    PROSPECT_SCORES,
)
from dagster_project.lib.audience_exports import (
    AUDIENCES,
    ExportParameters,
    export_files,
    load_export_candidates,
    select_audiences,
    write_exports,
)
from dagster_project.lib.privacy.erasure import SuppressionStore
from dagster_project.lib.scoring import triggers
from dagster_project.lib.scoring.lookalikes import (
    LookalikeParameters,
    load_lookalike_attributes,
    score_lookalikes,
)
from dagster_project.lib.scoring.segment_rules import load_rules
from dagster_project.lib.warehouse import BUILD_DB_POOL, WarehouseResource, replace_snapshot

# The dbt models read directly besides the scores and segments (internal staging data included).
IDENTITY_MAP = dbt_model_key("customer_identity_map")
CRM_CUSTOMERS = dbt_model_key("stg_crm__customers")
PROSPECTS = dbt_model_key("stg_marketing__prospects")
WEB_ACTIVITY = dbt_model_key("fct_web_activity")


class LookalikeConfig(dg.Config):
    """Tunables of the prospect lookalike scores (visible in the launchpad)."""

    target_segment: str = "VIP"
    min_target_customers: int = 20
    include_low_value_customers: bool = False
    min_level_customers: int = 5
    regularization: float = 1.0
    holdout_share: float = 0.25
    seed: int = 42


class TriggerConfig(dg.Config):
    """Horizons and thresholds of the marketing triggers (visible in the launchpad)."""

    birthday_horizon_days: int = 30
    contract_end_horizon_days: int = 60
    win_back_min_frequency: int = 1
    win_back_gap_factor: float = 2.0
    win_back_min_days: int = 30
    win_back_max_recency_days: int = 365


class ExportConfig(dg.Config):
    """Who is in which audience export (visible in the launchpad)."""

    win_back_value_tiers: list[str] = ["high", "medium"]
    win_back_abc_classes: list[str] = ["A"]
    lookalike_top_share: float = 0.25


def _snapshot_month(context: dg.AssetExecutionContext) -> date:
    return date.fromisoformat(context.partition_key)


def _markdown(frame: pl.DataFrame) -> dg.MetadataValue:
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += [
        "| " + " | ".join("" if v is None else str(v) for v in row) + " |"
        for row in frame.iter_rows()
    ]
    return dg.MetadataValue.md("\n".join(lines))


@dg.asset(
    key=PROSPECT_SCORES,
    deps=[CUSTOMER_SEGMENTS, CUSTOMER_SCORES, IDENTITY_MAP, CRM_CUSTOMERS, PROSPECTS, WEB_ACTIVITY],
    partitions_def=monthly_partitions,
    group_name="activation",
    pool=BUILD_DB_POOL,
    description="How much each prospect looks like the target segment's customers (default "
    "VIP): probability, rank and the attributes that raised it, per snapshot month.",
)
def prospect_scores(
    context: dg.AssetExecutionContext, config: LookalikeConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    month = _snapshot_month(context)
    # The value tiers come from the segmentation rules: the top one stands in for a target
    # segment too small to learn, the bottom one is the optional low-value candidates.
    tiers = sorted(load_rules().value_tier.tiers, key=lambda tier: tier.min)
    params = LookalikeParameters(
        **config.model_dump(), top_value_tier=tiers[-1].tier, low_value_tier=tiers[0].tier
    )
    with warehouse.writer(context.log), warehouse.build_connection() as con:
        attributes = load_lookalike_attributes(con, month)
        result = score_lookalikes(attributes, month, params)
        replace_snapshot(con, "marts.prospect_scores", result.scores, month)

    if result.note:
        context.log.warning(f"prospect scores: {result.note}")
    scores = result.scores
    metadata: dict[str, object] = {
        "snapshot_month": str(month),
        "rows": scores.height,
        "prospects": scores.filter(pl.col("candidate_type") == "prospect").height,
        "target": result.target,
        "target_customers": result.target_customers,
        "buyers": result.buyers,
        "method": result.method,
        "note": result.note or "",
        "top_prospects": _markdown(
            scores.head(10).select(
                "rank", "prospect_id", "customer_id", pl.col("lookalike_score").round(4)
            )
        ),
    }
    if result.holdout_auc is not None:
        metadata["holdout_auc"] = round(result.holdout_auc, 4)
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    key=CUSTOMER_TRIGGERS,
    deps=[CUSTOMER_SEGMENTS, CUSTOMER_SCORES, IDENTITY_MAP, CRM_CUSTOMERS],
    partitions_def=monthly_partitions,
    group_name="activation",
    pool=BUILD_DB_POOL,
    description="Birthday (due the Monday of the birthday's week, never the birth date), "
    "contract-end and win-back triggers with due dates, per customer and snapshot month.",
)
def customer_triggers(
    context: dg.AssetExecutionContext, config: TriggerConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    month = _snapshot_month(context)
    params = triggers.TriggerParameters(**config.model_dump())
    with warehouse.writer(context.log), warehouse.build_connection() as con:
        frame = triggers.customer_triggers(
            triggers.load_crm_as_of(con, month),
            triggers.load_trigger_scores(con, month),
            month,
            params,
        )
        # warehouses built before the consent flag: add the column, then write by name
        con.execute(
            "alter table if exists marts.customer_triggers "
            "add column if not exists marketing_opt_in boolean"
        )
        replace_snapshot(con, "marts.customer_triggers", frame, month)

    counts = dict(frame.group_by("trigger").len().iter_rows())
    return dg.MaterializeResult(
        metadata={
            "snapshot_month": str(month),
            "rows": frame.height,
            "customers": frame["customer_id"].n_unique(),
            "marketing_allowed": int(frame["marketing_opt_in"].sum()),
            **{
                f"{trigger}_triggers": counts.get(trigger, 0)
                for trigger in ("birthday", "contract_end", "win_back")
            },
        }
    )


@dg.asset(
    key=AUDIENCE_EXPORTS,
    deps=[
        CUSTOMER_SEGMENTS,
        CUSTOMER_SCORES,
        PROSPECT_SCORES,
        IDENTITY_MAP,
        CRM_CUSTOMERS,
        ERASURE_LOG,
    ],
    partitions_def=monthly_partitions,
    group_name="activation",
    pool=BUILD_DB_POOL,
    kinds={"csv"},
    description="Audience files beside the warehouse (`<stem>.exports/<YYYY-MM>/`): high value, "
    "lapsed high value (win back), at risk, new customers and VIP lookalike prospects as Google "
    "Ads Customer Match uploads (hashed), plus a CRM file of segments. Opted-in customers only; "
    "erased persons never.",
)
def audience_exports(
    context: dg.AssetExecutionContext, config: ExportConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    month = _snapshot_month(context)
    tiers = sorted(load_rules().value_tier.tiers, key=lambda tier: tier.min)
    params = ExportParameters(
        top_value_tier=tiers[-1].tier,
        win_back_value_tiers=tuple(config.win_back_value_tiers),
        win_back_abc_classes=tuple(config.win_back_abc_classes),
        lookalike_top_share=config.lookalike_top_share,
    )
    with warehouse.writer(context.log) as settings, warehouse.build_connection() as con:
        store = SuppressionStore(settings.privacy_dir)
        candidates = load_export_candidates(con, month, salt=store.salt, suppressed=store.hashes())
        files = export_files(select_audiences(candidates, params))
        month_dir = write_exports(settings.exports_dir, month, files)

    counts = {name: files[name].height for name in AUDIENCES}
    return dg.MaterializeResult(
        metadata={
            "snapshot_month": str(month),
            "folder": dg.MetadataValue.path(str(month_dir)),
            "customers_in_snapshot": candidates.height,
            "opted_in": int(candidates["marketing_opt_in"].sum()),
            **{f"{name}_rows": rows for name, rows in counts.items()},
            "files": _markdown(
                pl.DataFrame({"file": [f"{n}.csv" for n in counts], "rows": list(counts.values())})
            ),
        }
    )
