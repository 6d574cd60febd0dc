"""The monthly HTML report for people, linked from the asset's metadata."""

from datetime import date

import dagster as dg
import polars as pl

from dagster_project.defs.jobs import monthly_partitions
from dagster_project.lib.asset_keys import SEGMENT_MIGRATIONS, SEGMENT_PROFILES, SEGMENT_SIZES
from dagster_project.lib.report import load_report_data, render_report
from dagster_project.lib.warehouse import BUILD_DB_POOL, WarehouseResource


@dg.asset(
    key=dg.AssetKey(["reports", "segment_report"]),
    deps=[SEGMENT_MIGRATIONS, SEGMENT_SIZES, SEGMENT_PROFILES],
    partitions_def=monthly_partitions,
    group_name="reporting",
    pool=BUILD_DB_POOL,
    kinds={"html"},
    description="Self-contained HTML report per snapshot month: migration Sankey, segment "
    "sizes over time, cluster profiles, persona word clouds, top movements in words.",
)
def segment_report(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    month = date.fromisoformat(context.partition_key)
    settings = warehouse.settings
    with warehouse.writer(context.log), warehouse.build_connection(read_only=True) as con:
        data = load_report_data(con, month, settings.reporting_currency)
    month_dir = settings.reports_dir / f"{month:%Y-%m}"
    month_dir.mkdir(parents=True, exist_ok=True)
    path = month_dir / "report.html"
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(render_report(data, month_dir), encoding="utf-8")
    tmp.replace(path)  # a reader never sees half a report

    sizes = data.profiles.select("segment", "customers", pl.col("share").round(3))
    table = "\n".join(
        ["| segment | customers | share |", "|---|---:|---:|"]
        + [f"| {s} | {c:,} | {sh:.1%} |" for s, c, sh in sizes.iter_rows()]
    )
    movements = "\n".join(f"- {m}" for m in data.movements) or "- no previous snapshot"
    return dg.MaterializeResult(
        metadata={
            "report": dg.MetadataValue.path(str(path)),
            "open": dg.MetadataValue.url(path.as_uri()),
            "key_figures": dg.MetadataValue.md(f"{table}\n\n**Top movements**\n\n{movements}"),
        }
    )
