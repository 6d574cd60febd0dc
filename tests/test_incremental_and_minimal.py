"""Stable customer ids as landing files accumulate; an orders-only landing zone; CLI behaviour."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl

from tests.conftest import DemoSet, query, run_pipeline


def _copy_months(source: Path, target: Path, keep) -> int:
    copied = 0
    for file in sorted(source.glob("*/*")):
        month = file.stem.rsplit("_", 1)[-1]
        if keep(month):
            (target / file.parent.name).mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, target / file.parent.name / file.name)
            copied += 1
    return copied


def _segmentwerk(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dagster_project.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_appending_a_month_never_renames_an_existing_customer(demo_set: DemoSet, tmp_path: Path):
    landing, warehouse = tmp_path / "landing", tmp_path / "warehouse.duckdb"
    last = "2025-12"
    assert _copy_months(demo_set.landing_dir, landing, lambda m: m < last) > 0
    first = run_pipeline(landing, warehouse, [date(2025, 11, 1)])
    assert first.success, first.reason
    before = dict(
        (((s, k), c) for s, k, c in query(warehouse, "select * from marts.customer_identity_map"))
    )

    assert _copy_months(demo_set.landing_dir, landing, lambda m: m == last) > 0
    # The second load goes through the console script, the way a cron job would call it.
    done = _segmentwerk(
        "run",
        "--month",
        last,
        "--quiet",
        env={"LANDING_DIR": str(landing), "DUCKDB_PATH": str(warehouse)},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    after = dict(
        (((s, k), c) for s, k, c in query(warehouse, "select * from marts.customer_identity_map"))
    )
    merges = set(
        query(
            warehouse,
            "select merged_customer_id, surviving_customer_id from marts.customer_id_merges",
        )
    )
    splits = set(
        query(
            warehouse,
            "select split_from_customer_id, split_customer_id from marts.customer_id_splits",
        )
    )
    assert len(after) > len(before)
    live = {c for (c,) in query(warehouse, "select customer_id from marts.dim_customers")}
    # Every customer id of the first load still exists, or its merge is recorded.
    assert {old for old in before.values() if old not in live} <= {m for m, _ in merges}
    # A record changes customer only through a recorded merge or split.
    moved = {(old, after[key]) for key, old in before.items() if after.get(key) != old}
    assert moved <= merges | splits, moved - merges - splits
    # New orders of known people join their existing customer instead of minting new ids.
    new_keys = set(after) - set(before)
    reused = {after[k] for k in new_keys} & set(before.values())
    assert reused, "new landing rows should attach to existing customers"


def test_an_orders_only_landing_zone_builds(demo_set: DemoSet, tmp_path: Path):
    """A one-currency web shop (EUR, the reporting currency) with nothing but its orders."""
    landing, warehouse = tmp_path / "landing", tmp_path / "warehouse.duckdb"
    (landing / "shop_orders").mkdir(parents=True)
    for path in sorted((demo_set.landing_dir / "shop_orders").glob("*.csv")):
        # Without fx_rates, other currencies cannot be converted: they would be quarantined
        # (and, beyond 5 % of a file, stop the run at the quality gate).
        orders = pl.read_csv(path, infer_schema=False)
        orders.filter(pl.col("currency") == "EUR").write_csv(landing / "shop_orders" / path.name)
    outcome = run_pipeline(landing, warehouse, [date(2025, 12, 1)])
    assert outcome.success, outcome.reason
    customers, systems = query(
        warehouse,
        "select count(*), string_agg(distinct source_systems, ';') from marts.dim_customers",
    )[0]
    assert customers > 500
    assert systems == "shop"
    assert query(warehouse, "select count(distinct source_system) from marts.fct_orders")[0][0] == 1


def test_an_empty_landing_zone_stops_with_a_one_line_reason(tmp_path: Path):
    (tmp_path / "landing").mkdir()
    done = _segmentwerk(
        "run",
        "--month",
        "2025-12",
        env={
            "LANDING_DIR": str(tmp_path / "landing"),
            "DUCKDB_PATH": str(tmp_path / "warehouse.duckdb"),
        },
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    reason = [line for line in done.stderr.splitlines() if line.startswith("segmentwerk")]
    assert len(reason) == 1 and "shop_orders" in reason[0]
    assert not (tmp_path / "warehouse.duckdb").exists()
