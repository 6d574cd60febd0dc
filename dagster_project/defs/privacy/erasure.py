"""Right to be forgotten: applied after every unification, before anything reads its result."""

import dagster as dg

from dagster_project.defs.unification.dbt_models import unification_dbt_models
from dagster_project.lib.asset_keys import ERASURE_LOG
from dagster_project.lib.privacy.erasure import SuppressionStore, apply_erasure
from dagster_project.lib.warehouse import BUILD_DB_POOL, WarehouseResource


@dg.asset(
    key=ERASURE_LOG,
    # after the whole dbt build: every table it (re)creates from the landing files
    deps=[spec.key for spec in unification_dbt_models.specs],
    group_name="privacy",
    pool=BUILD_DB_POOL,
    kinds={"duckdb"},
    description="Erases the persons of `erasure_requests` (and every person erased before, "
    "via the salted suppression list) from staging, the identity graph and registry, the marts, "
    "every past snapshot and every export; logs each application without personal data.",
)
def erasure_log(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    with warehouse.writer(context.log) as settings, warehouse.build_connection() as con:
        outcome = apply_erasure(con, SuppressionStore(settings.privacy_dir), settings.exports_dir)
    if outcome.customers:
        context.log.info(
            f"erased {outcome.customers} customer id(s), {outcome.identity_keys} identity keys"
        )
    return dg.MaterializeResult(
        metadata={
            "requests": outcome.requests,
            "identity_keys": outcome.identity_keys,
            "customers": outcome.customers,
            "new_suppressed_keys": outcome.new_suppressed_keys,
            "log_rows": outcome.log.height,
            # where the time goes: every run scans every table for the persons erased so far
            "slowest_tables_s": dg.MetadataValue.json(
                {
                    table: round(seconds, 2)
                    for table, seconds in sorted(
                        outcome.table_seconds.items(), key=lambda item: -item[1]
                    )[:8]
                }
            ),
            **{layer: rows for layer, rows in outcome.rows.items()},
        }
    )
