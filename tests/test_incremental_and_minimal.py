"""Stable customer ids as landing files accumulate; CLI behaviour on an empty landing zone.

(An orders-only landing zone is tests/test_cdnow_pipeline.py.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import BuiltWarehouse, query


def _segmentwerk(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dagster_project.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_appending_a_month_never_renames_an_existing_customer(demo_warehouse: BuiltWarehouse):
    """The session warehouse was loaded up to November first, then December's files landed."""
    warehouse = demo_warehouse.settings.duckdb_path
    before = demo_warehouse.first_load_identity
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
