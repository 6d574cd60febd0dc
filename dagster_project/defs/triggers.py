"""When the job runs: monthly on schedule, and when new files land."""

import dagster as dg

from dagster_project.defs.jobs import monthly_partitions, monthly_resegmentation
from dagster_project.lib.landing_watch import landing_fingerprint
from dagster_project.lib.settings import load_settings

# On the 1st of every month at 03:00 for the month just ended: the partitioned schedule asks
# for the latest complete partition (a plain cron schedule would send no partition key).
monthly_resegmentation_schedule = dg.build_schedule_from_partitioned_job(
    monthly_resegmentation,
    name="monthly_resegmentation_schedule",
    day_of_month=1,
    hour_of_day=3,
    minute_of_hour=0,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)


@dg.sensor(
    job=monthly_resegmentation,
    minimum_interval_seconds=60,
    # Off until switched on in the UI: a fresh `make dev` should not start writing at once.
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Re-segments the latest snapshot month when files are added to or changed in "
    "the landing zone; the same set of files never triggers twice.",
)
def landing_zone_sensor(context: dg.SensorEvaluationContext):
    fingerprint, files = landing_fingerprint(load_settings().landing_dir)
    if files == 0:
        return dg.SkipReason("the landing zone holds no files")
    if fingerprint == context.cursor:
        return dg.SkipReason(f"no new landing files ({files} already processed)")
    month = monthly_partitions.get_last_partition_key()
    context.update_cursor(fingerprint)
    return dg.RunRequest(
        run_key=f"landing-{fingerprint}",
        partition_key=month,
        tags={"segmentwerk/trigger": "landing_zone", "segmentwerk/landing_files": str(files)},
    )
