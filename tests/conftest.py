"""Shared fixtures: one demo data set and one real pipeline run per test session.

Everything is real: the generator writes landing files, dbt builds a DuckDB file, Dagster runs
the `monthly_resegmentation` job in-process, the publication writes the BI file.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pytest

from dagster_project.lib.settings import Settings, load_settings

# Tests use an ephemeral Dagster instance, never the developer's `.dagster_home`.
os.environ.pop("DAGSTER_HOME", None)

DEMO_END_MONTH = "2025-12"
DEMO_MONTHS = 26
DEMO_CUSTOMERS = 2000


# --- two workers (`make test` runs pytest-xdist with `-n 2`) --------------------------------------
# A group runs whole on one worker: the modules that share a session-scoped scenario build it
# once, and a module's own fixtures are never built twice. The controller schedules by node id
# only, so the modules of each shared scenario are listed here; collection checks the list.
# The longest groups start first (measured with `pytest --durations=0`: 60-150 s each), so no
# worker is left finishing a long one alone while the other idles.
SCENARIO_MODULES = {
    "erasure_scenario": ("test_erasure", "test_reader_during_run"),
    "demo_warehouse": (
        "test_incremental_and_minimal",
        "test_report",
        "test_segments_pipeline",
        "test_snapshots_over_time",
        "test_unification",
    ),
}
LONGEST_FIRST = (
    "demo_warehouse",
    "erasure_scenario",
    "test_quality_gate",
    "test_bench_smoke",
    "test_incremental_staging",
    "test_cdnow_pipeline",
    "test_hostile_input",
    "test_publication",
    "test_dev_server",
)
_GROUP_OF_MODULE = {m: group for group, modules in SCENARIO_MODULES.items() for m in modules}


def worker_group(nodeid: str) -> str:
    module = Path(nodeid.split("::", 1)[0]).stem
    return _GROUP_OF_MODULE.get(module, module)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for scenario in SCENARIO_MODULES:
            if scenario in item.fixturenames and worker_group(item.nodeid) != scenario:
                raise pytest.UsageError(
                    f"{item.nodeid} uses {scenario}: list its module under "
                    f"SCENARIO_MODULES[{scenario!r}] in tests/conftest.py"
                )
    rank = {group: i for i, group in enumerate(LONGEST_FIRST)}
    # stable: each group's tests keep their order and stay together
    items.sort(key=lambda item: rank.get(worker_group(item.nodeid), len(rank)))


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    # pytest-xdist's own `loadgroup` does not group under pytest 9 (it rewrites a node id
    # attribute pytest no longer reads), so the grouping is ours.
    from xdist.scheduler import LoadScopeScheduling

    class ScenarioScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return worker_group(nodeid)

    config.option.loadscopereorder = False  # keep the longest-first collection order
    return ScenarioScheduling(config, log)


@dataclass(frozen=True)
class DemoSet:
    landing_dir: Path
    truth_dir: Path


@contextmanager
def warehouse_env(
    landing_dir: Path, duckdb_path: Path, reporting_currency: str | None = None
) -> Iterator[Settings]:
    """The contract's environment for one warehouse, restored afterwards."""
    env = {"LANDING_DIR": str(landing_dir), "DUCKDB_PATH": str(duckdb_path)}
    if reporting_currency is not None:
        env["REPORTING_CURRENCY"] = reporting_currency
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield load_settings()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_pipeline(
    landing_dir: Path, duckdb_path: Path, months: list[date], reporting_currency: str | None = None
):
    from dagster_project.lib.job_runner import run_months

    with warehouse_env(landing_dir, duckdb_path, reporting_currency):
        return run_months(months, quiet=True)


def query(path: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="session")
def demo_set(tmp_path_factory: pytest.TempPathFactory) -> DemoSet:
    from dagster_project.lib.demo_data import generate_demo_data

    root = tmp_path_factory.mktemp("demo")
    generate_demo_data(
        root / "landing",
        root / "truth",
        customers=DEMO_CUSTOMERS,
        months=DEMO_MONTHS,
        end_month=DEMO_END_MONTH,
        seed=7,
    )
    return DemoSet(root / "landing", root / "truth")


@dataclass(frozen=True)
class BuiltWarehouse:
    settings: Settings
    demo: DemoSet
    # customer_identity_map of the first load ((source_system, source_key) -> customer_id)
    first_load_identity: dict[tuple[str, str], str]


def copy_landing_months(source: Path, target: Path, keep) -> int:
    """Copy the monthly landing files (`<table>/<table>_<YYYY-MM>.<ext>`) whose month `keep`s."""
    copied = 0
    for file in sorted(source.glob("*/*")):
        month = file.stem.rsplit("_", 1)[-1]
        if keep(month):
            (target / file.parent.name).mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, target / file.parent.name / file.name)
            copied += 1
    return copied


@pytest.fixture(scope="session")
def demo_warehouse(demo_set: DemoSet, tmp_path_factory: pytest.TempPathFactory) -> BuiltWarehouse:
    """The demo retailer loaded the way its files arrive: the first load holds the files up to
    November and backfills October and November; then December's files land and the December
    run appends (three snapshots, so migrations between them exist)."""
    root = tmp_path_factory.mktemp("wh")
    landing, duckdb_path = root / "landing", root / "warehouse.duckdb"
    last = DEMO_END_MONTH
    assert copy_landing_months(demo_set.landing_dir, landing, lambda m: m < last) > 0
    first = run_pipeline(landing, duckdb_path, [date(2025, 10, 1), date(2025, 11, 1)])
    assert first.success, first.reason
    first_load_identity = {
        (system, key): customer_id
        for system, key, customer_id in query(
            duckdb_path,
            "select source_system, source_key, customer_id from marts.customer_identity_map",
        )
    }
    assert copy_landing_months(demo_set.landing_dir, landing, lambda m: m >= last) > 0
    second = run_pipeline(landing, duckdb_path, [date(2025, 12, 1)])
    assert second.success, second.reason
    with warehouse_env(landing, duckdb_path) as settings:
        return BuiltWarehouse(settings, DemoSet(landing, demo_set.truth_dir), first_load_identity)


# --- a small warehouse that sees a right-to-be-forgotten request (test_erasure.py and
# test_reader_during_run.py share it: its second run is the one the reader watches) -------------


@dataclass(frozen=True)
class ErasureScenario:
    settings: Settings
    demo: DemoSet
    persons: dict[str, dict[str, set[str]]]  # 'by_number' / 'by_email' -> identifier kind -> values
    before: dict[str, object]  # aggregates of the first run, to compare after the erasure
    reader: dict[str, object]  # what a long-lived reader saw during the second run
    second_run: object  # subprocess.CompletedProcess of `segmentwerk run`


@pytest.fixture(scope="session")
def erasure_scenario(tmp_path_factory: pytest.TempPathFactory) -> ErasureScenario:
    from privacy_scenario import build_erasure_scenario

    return build_erasure_scenario(tmp_path_factory.mktemp("erasure"))
