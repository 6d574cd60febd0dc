"""The landing-zone tables: the upstream end of the lineage in the Dagster UI.

They are produced outside Dagster (daily drops of CSV/Parquet files), so they are specs, not
materialisable assets; the dbt sources of the same name depend on them.
"""

import dagster as dg

from dagster_project.lib.landing_contract import LANDING_TABLES

landing_tables = [
    dg.AssetSpec(
        key=dg.AssetKey(["landing", table.name]),
        group_name="landing",
        description=f"{table.description} Files: $LANDING_DIR/{table.name}/*.csv|*.parquet",
        kinds={"csv", "parquet"},
        metadata={
            "required_columns": ", ".join(table.required),
            "optional_columns": ", ".join(table.optional),
        },
    )
    for table in LANDING_TABLES.values()
]
