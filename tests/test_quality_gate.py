"""The Great Expectations gate in the real pipeline: it passes on good data, and a failing
blocking check stops the run before publication while the previous publication stays readable.

Three real runs on the tiny session demo set: one good month (the gate passes), one load with
a landing file that is mostly unusable (through the console script), and one snapshot month
long after the last order (stale data), executed directly to inspect the steps.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from tests.conftest import DemoSet, query, run_pipeline, warehouse_env
from tests.test_incremental_and_minimal import _segmentwerk

GOOD_MONTH = date(2025, 12, 1)
STALE_MONTH = "2026-10-01"  # ten months after the demo set's last order


@pytest.fixture(scope="module")
def gated(demo_set: DemoSet, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("gate")
    landing, warehouse = root / "landing", root / "warehouse.duckdb"
    shutil.copytree(demo_set.landing_dir, landing)
    outcome = run_pipeline(landing, warehouse, [GOOD_MONTH])
    assert outcome.success, outcome.reason
    return landing, warehouse


def _publication(warehouse: Path) -> tuple:
    version = query(warehouse, "select * from audit.publication")
    counts = query(
        warehouse,
        "select (select count(*) from marts.fct_orders),"
        " (select count(*) from marts.dim_customers),"
        " (select count(*) from audit.load_reconciliation),"
        " (select count(*) from marts.customer_scores)",
    )
    return version, counts


def test_the_gate_passes_on_good_data_and_writes_data_docs(gated: tuple[Path, Path]) -> None:
    landing, warehouse = gated
    reports = warehouse.parent / "warehouse.reports"
    assert (reports / "quality" / "unification" / "index.html").exists()
    for stage in ("scoring", "segmentation", "migration", "profiles"):
        assert (reports / "2025-12" / "quality" / stage / "index.html").exists(), stage
    build = warehouse.parent / "warehouse.build.duckdb"
    history = dict(query(build, "select suite, row_count from quality.row_count_history"))
    accepted = query(build, "select count(*) from staging.stg_shop__orders")[0][0]
    assert history["landing.shop_orders"] == accepted > 0
    # the history lives in the build database only: BI never sees a `quality` schema
    assert not query(
        warehouse, "select * from information_schema.tables where table_schema = 'quality'"
    )


def test_a_mostly_unusable_landing_file_stops_the_run_before_publication(
    gated: tuple[Path, Path],
) -> None:
    landing, warehouse = gated
    before = _publication(warehouse)
    bad = landing / "shop_orders" / "shop_orders_2025-12-late.csv"
    rows = ["order_id,ordered_at,customer_no,amount,currency,status"]
    rows += [f"LATE{i},2025-12-20 10:00:00,,12.50,EUR,completed" for i in range(10)]
    rows += [f"LATE{i},2025-12-20 10:00:00,,twelve,EUR,completed" for i in range(10, 20)]
    bad.write_text("\n".join(rows) + "\n")
    try:
        done = _segmentwerk(
            "run",
            "--month",
            "2025-12",
            env={"LANDING_DIR": str(landing), "DUCKDB_PATH": str(warehouse)},
        )
    finally:
        bad.unlink()
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    reason = [line for line in done.stderr.splitlines() if line.startswith("segmentwerk")]
    assert len(reason) == 1, done.stderr[-2000:]
    assert "quality gate stopped the run" in reason[0]
    assert "gx_load_reconciliation on audit/load_reconciliation" in reason[0]
    assert "quarantined_share" in reason[0] and "1 offending row" in reason[0]
    # Nothing was published: BI still reads the previous, complete version.
    assert _publication(warehouse) == before
    # ... while the build database has the bad load, quarantined rows and all.
    build = warehouse.parent / "warehouse.build.duckdb"
    assert query(
        build,
        "select rows_read, rows_quarantined from audit.load_reconciliation "
        "where source_file like '%2025-12-late.csv'",
    ) == [(20, 10)]


def test_a_failing_blocking_check_on_a_monthly_mart_skips_everything_downstream(
    gated: tuple[Path, Path],
) -> None:
    from dagster_project.definitions import defs

    landing, warehouse = gated
    before = _publication(warehouse)
    definitions = defs()
    partitioned = [s.key for s in definitions.resolve_all_asset_specs() if s.partitions_def]
    with warehouse_env(landing, warehouse), dg.DagsterInstance.ephemeral() as instance:
        result = definitions.resolve_job_def("monthly_resegmentation").execute_in_process(
            partition_key=STALE_MONTH,
            instance=instance,
            asset_selection=[*partitioned, dg.AssetKey("published_warehouse")],
            raise_on_error=False,
        )
    assert not result.success
    evaluations = {
        e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    }
    stale = evaluations["gx_order_freshness"]
    assert not stale.passed and stale.severity == dg.AssetCheckSeverity.ERROR
    assert stale.asset_key == dg.AssetKey(["marts", "customer_scores"])
    failed = stale.metadata["failed_expectations"].value
    assert "| expect_column_max_to_be_between | ordered_at | critical |" in failed
    assert "2025-12-31" in failed  # the latest order the snapshot would have seen
    assert evaluations["gx_customer_scores"].passed  # the same step's other suite
    assert "data_docs" in stale.metadata
    materialized = {
        e.asset_key
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION
    }
    # customer_scores was written (its check runs after it) - nothing downstream of it ran.
    assert dg.AssetKey(["marts", "customer_scores"]) in materialized
    for key in (
        ["marts", "customer_segments"],
        ["marts", "segment_profiles"],
        ["published_warehouse"],
    ):
        assert dg.AssetKey(key) not in materialized, key
    steps = {
        kind: {e.step_key for e in result.all_events if e.event_type == kind}
        for kind in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE)
    }
    assert steps[dg.DagsterEventType.STEP_FAILURE] == {"quality_gate_scoring"}
    assert "customer_scores" in steps[dg.DagsterEventType.STEP_SUCCESS]
    assert (
        not {"marts__customer_segments", "published_warehouse"}
        & steps[dg.DagsterEventType.STEP_SUCCESS]
    )
    assert _publication(warehouse) == before

    from dagster_project.lib.job_runner import failure_reason

    reason = failure_reason(result)
    assert reason.startswith(
        "quality gate stopped the run: gx_order_freshness on marts/customer_scores"
    )
    assert "\n" not in reason
