"""Segments over time: migration flows between consecutive snapshots and segment sizes."""

from datetime import date

import dagster as dg
import polars as pl

from dagster_project.defs.jobs import monthly_partitions
from dagster_project.defs.scoring.assets import UNIFIED
from dagster_project.lib.asset_keys import (
    CUSTOMER_SCORES,
    CUSTOMER_SEGMENTS,
    SEGMENT_MIGRATIONS,
    SEGMENT_SIZES,
)
from dagster_project.lib.scoring.migrations import segment_migrations, segment_sizes, top_movements
from dagster_project.lib.warehouse import BUILD_DB_POOL, WarehouseResource, replace_snapshot


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            SEGMENT_MIGRATIONS,
            deps=[CUSTOMER_SEGMENTS, *UNIFIED],
            description="Customers and their revenue moving between segments from the previous "
            "snapshot to this one, per dimension; '(new)' enter, '(gone)' leave.",
        ),
        dg.AssetSpec(
            SEGMENT_SIZES,
            deps=[CUSTOMER_SEGMENTS, CUSTOMER_SCORES],
            description="Customers, share, revenue and CLV per segment and month, for BI.",
        ),
    ],
    partitions_def=monthly_partitions,
    group_name="migration",
    pool=BUILD_DB_POOL,
)
def segment_migration(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    month = date.fromisoformat(context.partition_key)
    currency = warehouse.settings.reporting_currency
    with warehouse.writer(context.log), warehouse.build_connection() as con:
        flows = segment_migrations(con, month)
        sizes = segment_sizes(con, month)
        replace_snapshot(con, "marts.segment_migrations", flows, month, month_column="to_month")
        replace_snapshot(con, "marts.segment_sizes", sizes, month)

    movements = top_movements(flows, currency) if flows.height else []
    if not flows.height:
        context.log.info(f"no snapshot before {month:%Y-%m}: no migration to compute")
    yield dg.MaterializeResult(
        asset_key=SEGMENT_MIGRATIONS,
        metadata={
            "to_month": str(month),
            "flows": flows.height,
            "top_movements": dg.MetadataValue.md(
                "\n".join(f"- {m}" for m in movements) or "no previous snapshot"
            ),
        },
    )
    by_segment = sizes.filter(pl.col("dimension") == "segment").select(
        "segment", "customers", pl.col("share").round(3), pl.col("revenue_12m").round(0)
    )
    lines = ["| segment | customers | share | revenue 12m |", "|---|---:|---:|---:|"] + [
        f"| {s} | {c:,} | {sh:.1%} | {r:,.0f} |" for s, c, sh, r in by_segment.iter_rows()
    ]
    yield dg.MaterializeResult(
        asset_key=SEGMENT_SIZES,
        metadata={"snapshot_month": str(month), "segments": dg.MetadataValue.md("\n".join(lines))},
    )
