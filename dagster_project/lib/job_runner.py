"""Run `monthly_resegmentation` in-process for one month or a range, and explain failures.

A range shares its month-independent work: the first month runs the whole job (dbt unification
included); each later month runs only the monthly-partitioned assets. The range is published
once, after its last month: every publication copies the whole warehouse (at a million
customers about a minute), and a month in the middle of a backfill is superseded at once. A
month that fails stops the range before anything of it is published, so BI keeps the
previous complete version; re-running the range recomputes its months (idempotent).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import dagster as dg

from dagster_project.lib.months import partition_key
from dagster_project.lib.settings import Settings, load_settings

JOB_NAME = "monthly_resegmentation"


@dataclass(frozen=True)
class RunOutcome:
    success: bool
    reason: str = ""
    run_ids: tuple[str, ...] = ()


def _instance() -> dg.DagsterInstance:
    # With DAGSTER_HOME set (as `make` does) runs are recorded and show up in the UI.
    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def _describe_check(evaluation: dg.AssetCheckEvaluation) -> str:
    """`check on asset`, plus the check's own one-line description of what failed, if any."""
    text = f"{evaluation.check_name} on {evaluation.asset_key.to_user_string()}"
    detail = " ".join((evaluation.description or "").split())
    if detail:
        text += f" ({detail[:157] + '...' if len(detail) > 160 else detail})"
    return text


def failure_reason(result: dg.ExecuteInProcessResult) -> str:
    """One line naming what stopped the run: failed blocking checks first, then the step."""
    failed_checks = [
        _describe_check(e.asset_check_evaluation_data)
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        and not e.asset_check_evaluation_data.passed
        and e.asset_check_evaluation_data.severity == dg.AssetCheckSeverity.ERROR
    ]
    if failed_checks:
        shown = ", ".join(failed_checks[:5])
        more = f" and {len(failed_checks) - 5} more" if len(failed_checks) > 5 else ""
        return f"quality gate stopped the run: {shown}{more}"
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.STEP_FAILURE and event.step_failure_data:
            error = event.step_failure_data.error
            # Dagster wraps the step's own exception; its innermost cause says what went wrong.
            while error is not None and error.cause is not None:
                error = error.cause
            message = (error.message if error else "unknown error").strip().splitlines()
            return f"step {event.step_key} failed: {message[0] if message else ''}"
    return "the run did not succeed"


def run_months(
    months: list[date],
    *,
    quiet: bool = False,
    progress: Callable[[str], None] | None = None,
    unify: bool = True,
) -> RunOutcome:
    """Run the job for each month in order; `unify=False` reuses the current unification."""
    from dagster_project.definitions import defs

    definitions = defs()
    job = definitions.resolve_job_def(JOB_NAME)
    partitioned = [
        spec.key for spec in definitions.resolve_all_asset_specs() if spec.partitions_def
    ]
    publication = dg.AssetKey("published_warehouse")
    everything_else = sorted(
        definitions.resolve_asset_graph().executable_asset_keys - {publication}
    )
    run_config = {"loggers": {"console": {"config": {"log_level": "WARNING" if quiet else "INFO"}}}}
    run_ids: list[str] = []
    # dagster-dbt echoes every raw dbt line to stdout; people get the concise step log on
    # stderr instead, and the full dbt output goes to a log file beside the warehouse.
    log_path = load_settings().run_log_path
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with (
        _instance() as instance,
        log_path.open("a", encoding="utf-8") as log,
        contextlib.redirect_stdout(log),
    ):
        for index, month in enumerate(months):
            full_run = index == 0 and unify
            last = index == len(months) - 1 or not partitioned
            if not full_run and not partitioned:
                break  # nothing month-specific left to compute
            if progress is not None:
                scope = ["unify"] * full_run + ["score"] + ["publish"] * last
                progress(f"snapshot {month:%Y-%m} ({index + 1}/{len(months)}): {' + '.join(scope)}")
            if full_run:
                selection = None if last else everything_else
            else:
                selection = partitioned + [publication] * last
            result = job.execute_in_process(
                partition_key=partition_key(month),
                instance=instance,
                asset_selection=selection,
                raise_on_error=False,
                run_config=run_config,
            )
            run_ids.append(result.run_id)
            if not result.success:
                reason = f"{month:%Y-%m}: {failure_reason(result)} (details: {log_path})"
                return RunOutcome(False, reason, tuple(run_ids))
    return RunOutcome(True, run_ids=tuple(run_ids))


def summarize_warehouse(settings: Settings, months: list[date]) -> str:
    import duckdb

    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    try:
        tables = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_schema in ('marts', 'audit') order by 1"
        ).fetchall()
        counts = {
            name: con.execute(f"select count(*) from {name}").fetchall()[0][0] for (name,) in tables
        }
    finally:
        con.close()
    span = f"{months[0]:%Y-%m}" + (f" .. {months[-1]:%Y-%m}" if len(months) > 1 else "")
    width = max((len(n) for n in counts), default=10)
    lines = [f"segmentwerk: snapshot {span} published", ""]
    lines += [f"  {name:<{width}}  {rows:>12,}" for name, rows in counts.items()]
    lines += [
        "",
        f"  warehouse (open read-only): {settings.duckdb_path}",
        f"  reports:                    {settings.reports_dir}",
    ]
    return "\n".join(lines)
