import shutil
import sys
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource

from dagster_project.defs.unification.dbt_models import dbt_project
from dagster_project.lib.console_log import concise_console_logger
from dagster_project.lib.warehouse import WarehouseResource


def _dbt_executable() -> str:
    # The dbt installed beside this interpreter, also when the venv is not activated (cron,
    # `.venv/bin/segmentwerk`); otherwise whatever `dbt` is on PATH.
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=_dbt_executable()),
            "warehouse": WarehouseResource(),
        },
        # One DuckDB writer at a time: steps of a run execute one after another in the run's
        # process, which also saves the start-up cost of a process per step.
        executor=dg.in_process_executor,
        loggers={"console": concise_console_logger},
    )
