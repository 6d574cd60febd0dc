"""Segment profiles and personas: a thin asset over `dagster_project.lib.scoring.profiles`."""

import base64
from datetime import date

import dagster as dg
import polars as pl

from dagster_project.defs.jobs import monthly_partitions
from dagster_project.lib.asset_keys import CUSTOMER_SCORES, CUSTOMER_SEGMENTS, SEGMENT_PROFILES
from dagster_project.lib.scoring import profiles
from dagster_project.lib.warehouse import BUILD_DB_POOL, WarehouseResource, replace_snapshot


class ProfileConfig(dg.Config):
    """Tunables of the personas (visible in the launchpad)."""

    min_support_share: float = 0.05
    min_support_customers: int = 10
    min_lift: float = 1.1
    top_n: int = 5
    cloud_words: int = 25
    seed: int = 42


def _segment_table(frame: pl.DataFrame) -> str:
    lines = [
        "| segment | customers | share | revenue share (12 m) | avg predicted CLV |",
        "|---|---:|---:|---:|---:|",
    ]
    for segment, customers, share, revenue_share, clv in frame.select(
        "segment", "customers", "share", "revenue_share", "avg_predicted_clv"
    ).iter_rows():
        revenue = "–" if revenue_share is None else f"{revenue_share:.1%}"
        value = "–" if clv is None else f"{clv:,.0f}"
        lines.append(f"| {segment} | {customers:,} | {share:.1%} | {revenue} | {value} |")
    return "\n".join(lines)


def _persona_list(frame: pl.DataFrame) -> str:
    return "\n".join(
        f"- **{segment}** ({customers:,}): {persona}"
        for segment, customers, persona in frame.select(
            "segment", "customers", "top_attributes"
        ).iter_rows()
    )


def _embedded_png(png: bytes, alt: str) -> str:
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"


@dg.asset(
    key=SEGMENT_PROFILES,
    deps=[CUSTOMER_SEGMENTS, CUSTOMER_SCORES],
    partitions_def=monthly_partitions,
    group_name="segmentation",
    pool=BUILD_DB_POOL,
    description="Size, value and persona (over-represented attributes by lift) of every "
    "segment, lifecycle stage, value tier and cluster per snapshot month; persona word clouds "
    "and a cluster heatmap in the reports folder.",
)
def segment_profiles(
    context: dg.AssetExecutionContext, config: ProfileConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    month = date.fromisoformat(context.partition_key)
    params = profiles.ProfileParameters(**config.model_dump())
    settings = warehouse.settings
    with warehouse.writer(context.log), warehouse.build_connection() as con:
        result = profiles.segment_profiles(con, month, params)
        zscores = profiles.cluster_zscores(profiles.load_cluster_features(con, month))
        replace_snapshot(con, "marts.segment_profiles", result.profiles, month)

    # Pictures are rendered after the build database is released: they only need the frames.
    report_dir = settings.reports_dir / f"{month:%Y-%m}"
    persona_paths = profiles.write_persona_clouds(result, report_dir / "personas", params=params)
    chart = profiles.cluster_profile_chart(zscores, f"Cluster profiles {month:%Y-%m}")
    chart_path = report_dir / "cluster_profiles.png"
    chart_path.write_bytes(chart)

    by_segment = result.profiles.filter(pl.col("dimension") == "segment")
    return dg.MaterializeResult(
        metadata={
            "snapshot_month": str(month),
            "customers": int(by_segment["customers"].sum()),
            "segments": dg.MetadataValue.md(_segment_table(by_segment)),
            "personas": dg.MetadataValue.md(_persona_list(by_segment)),
            "cluster_profiles": dg.MetadataValue.md(
                _embedded_png(chart, f"cluster profiles {month:%Y-%m}")
            ),
            "cluster_profiles_png": dg.MetadataValue.path(chart_path),
            **{
                f"persona_png {segment}": dg.MetadataValue.path(path)
                for segment, path in persona_paths.items()
            },
        }
    )
