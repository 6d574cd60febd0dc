"""The one job that the CLI, the UI and the schedule run."""

import dagster as dg

from dagster_project.lib.months import first_month

monthly_partitions = dg.MonthlyPartitionsDefinition(
    start_date=first_month().isoformat(), end_offset=0
)

monthly_resegmentation = dg.define_asset_job(
    name="monthly_resegmentation",
    # The monthly partitions come from the selected scoring assets (Dagster infers a job's
    # partitioning; passing partitions_def here is deprecated and warned on every run).
    selection=dg.AssetSelection.all(),
    description="Unify the landing zone, score and segment one snapshot month, publish to BI.",
    # Runs that write the build database queue behind each other (see dagster.yaml).
    tags={"segmentwerk/writer": "build_db"},
)
