"""The data-quality gate: Great Expectations suites as blocking Dagster asset checks.

One `multi_asset_check` per stage validates all of the stage's suites (`expectations/*.json`)
in one step and one GX context: `unification` once per dbt build (landing tables as accepted
in staging, the reconciliation, the dbt marts), the monthly stages per snapshot month after
the step that writes their marts. Every check is blocking: a failed `critical` expectation
gives an ERROR result, so no downstream asset — and never `published_warehouse` — runs; a
failed `warning` expectation gives a WARN result and the run goes on.

Great Expectations is imported inside the step (it costs ~14 s), never when the definitions
load.
"""

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import dagster as dg

from dagster_project.lib.quality.suites import STAGES, SuiteSpec, suites_by_stage
from dagster_project.lib.quality.thresholds import load_thresholds
from dagster_project.lib.settings import Settings
from dagster_project.lib.warehouse import BUILD_DB_POOL, WarehouseResource

SEVERITY = {"critical": dg.AssetCheckSeverity.ERROR, "warning": dg.AssetCheckSeverity.WARN}


def data_docs_dir(settings: Settings, stage: str, month: date | None) -> Path:
    """GX Data Docs beside the warehouse, with the reports: `<stem>.reports/[YYYY-MM/]quality/`."""
    base = settings.reports_dir / f"{month:%Y-%m}" if month else settings.reports_dir
    return base / "quality" / stage


def _failed_table(outcome) -> str:
    failed = [r for r in outcome.results if not r.success]
    lines = [
        "| expectation | column | severity | offending rows | observed |",
        "|---|---|---|---:|---|",
    ]
    for r in failed:
        rows = "–" if r.offending_rows is None else f"{r.offending_rows:,}"
        observed = (r.error or r.observed).replace("|", "/")
        lines.append(f"| {r.expectation} | {r.column or ''} | {r.severity} | {rows} | {observed} |")
    return "\n".join(lines)


def _check_result(outcome, docs_index: Path | None) -> dg.AssetCheckResult:
    severity = outcome.severity
    metadata: dict[str, dg.RawMetadataValue] = {
        "suite": outcome.suite.name,
        "suite_file": str(outcome.suite.path.relative_to(outcome.suite.path.parents[2])),
        "expectations": len(outcome.results),
        "failed_expectations": dg.MetadataValue.md(_failed_table(outcome)) if severity else "none",
        "offending_rows": outcome.offending_rows,
        "validation_seconds": outcome.seconds,
    }
    if outcome.row_count is not None:
        metadata["row_count"] = outcome.row_count
    if outcome.loaded_at is not None:
        # the row-level expectations saw only these rows (quality.yaml: scope.row_checks)
        metadata["rows_validated"] = outcome.rows_validated or 0
        metadata["rows_loaded_at"] = outcome.loaded_at.isoformat(sep=" ")
    if docs_index is not None and docs_index.exists():
        metadata["data_docs"] = dg.MetadataValue.path(str(docs_index))
        metadata["data_docs_url"] = dg.MetadataValue.url(docs_index.as_uri())
    return dg.AssetCheckResult(
        asset_key=dg.AssetKey(list(outcome.suite.asset)),
        check_name=outcome.suite.check_name,
        passed=severity is None,
        severity=SEVERITY.get(severity or "critical", dg.AssetCheckSeverity.ERROR),
        description=outcome.summary(),
        metadata=metadata,
    )


def build_stage_check(stage: str, suites: list[SuiteSpec]) -> dg.AssetChecksDefinition:
    monthly = STAGES[stage]
    specs = [
        dg.AssetCheckSpec(
            name=suite.check_name,
            asset=dg.AssetKey(list(suite.asset)),
            blocking=True,
            description=f"Great Expectations suite {suite.name} "
            f"({len(suite.expectations)} expectations, {suite.path.name}). {suite.description}",
        )
        for suite in suites
    ]

    @dg.multi_asset_check(
        specs=specs,
        name=f"quality_gate_{stage}",
        description=f"Validates the {stage} suites of expectations/ in the build database.",
        pool=BUILD_DB_POOL,
    )
    def _stage_check(
        context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> Iterator[dg.AssetCheckResult]:
        # Lazy: Great Expectations takes ~14 s to import.
        from dagster_project.lib.quality.validation import (
            data_docs_index,
            previous_row_counts,
            record_row_counts,
            validate_suites,
        )

        month = date.fromisoformat(context.partition_key) if monthly else None
        thresholds = load_thresholds()
        now = datetime.now()
        with warehouse.writer(context.log) as settings:
            docs_dir = data_docs_dir(settings, stage, month)
            with warehouse.build_connection() as con:
                previous = previous_row_counts(con)
            # GX reads through its own read-only connection, closed before we write again.
            outcomes = validate_suites(
                settings.build_db_path,
                suites,
                thresholds=thresholds,
                month=month,
                previous_rows=previous,
                docs_dir=docs_dir,
                now=now,
                memory_limit=settings.memory_limit,
            )
            with warehouse.build_connection() as con:
                record_row_counts(con, outcomes, run_id=context.run.run_id, now=now)
        seconds = sum(o.seconds for o in outcomes)
        context.log.info(f"{stage}: {len(outcomes)} suites validated in {seconds:.2f} s")
        for outcome in outcomes:
            yield _check_result(outcome, data_docs_index(docs_dir))

    return _stage_check


quality_gates = [
    build_stage_check(stage, suites) for stage, suites in suites_by_stage().items() if suites
]
