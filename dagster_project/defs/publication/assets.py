"""The last step: make the new state visible to BI tools, atomically."""

import dagster as dg

from dagster_project.defs.unification.dbt_models import unification_dbt_models
from dagster_project.lib.asset_keys import ERASURE_LOG, MONTHLY_MARTS
from dagster_project.lib.privacy.erasure import SuppressionStore
from dagster_project.lib.publication import publish_warehouse
from dagster_project.lib.warehouse import BUILD_DB_POOL, WarehouseResource

PUBLISHED_GROUPS = {"marts", "audit"}


@dg.asset(
    deps=[
        *(spec.key for spec in unification_dbt_models.specs if spec.group_name in PUBLISHED_GROUPS),
        *MONTHLY_MARTS,
        ERASURE_LOG,
    ],
    group_name="publication",
    kinds={"duckdb", "parquet"},
    pool=BUILD_DB_POOL,
)
def published_warehouse(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """`$DUCKDB_PATH`: views over the latest complete Parquet copy of `marts` and `audit`.

    Runs only after every upstream step and its blocking checks succeeded, so bad data never
    reaches BI; readers with open connections switch to the new version with their next query.
    """
    with warehouse.writer(context.log) as settings:
        result = publish_warehouse(
            settings.build_db_path,
            settings.duckdb_path,
            settings.published_dir,
            erasure_generation=SuppressionStore(settings.privacy_dir).generation(),
        )
    table = "\n".join(f"| {name} | {rows:,} |" for name, rows in sorted(result.row_counts.items()))
    return dg.MaterializeResult(
        metadata={
            "version": result.version,
            "path": dg.MetadataValue.path(str(settings.duckdb_path)),
            "views_rebuilt": result.rebuilt_views,
            "stale_versions_removed": len(result.removed_versions),
            "tables": dg.MetadataValue.md(f"| table | rows |\n|---|---:|\n{table}"),
        }
    )
