import dagster as dg

from dagster_project.defs.unification.dbt_models import dbt_project
from dagster_project.lib.console_log import concise_console_logger
from dagster_project.lib.dbt_manifest import dbt_cli_resource
from dagster_project.lib.warehouse import WarehouseResource


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "dbt": dbt_cli_resource(dbt_project),
            "warehouse": WarehouseResource(),
        },
        # One DuckDB writer at a time: steps of a run execute one after another in the run's
        # process, which also saves the start-up cost of a process per step.
        executor=dg.in_process_executor,
        loggers={"console": concise_console_logger},
    )
