"""Snapshots over time: migrations conserve customers; nothing after a month leaks into it."""

from __future__ import annotations

import csv
import shutil
from datetime import date
from pathlib import Path

import pytest

from tests.conftest import BuiltWarehouse, copy_landing_months, query, run_pipeline, warehouse_env


@pytest.mark.parametrize(
    ("before", "after"), [("2025-10-01", "2025-11-01"), ("2025-11-01", "2025-12-01")]
)
def test_every_migration_flow_conserves_customers(
    demo_warehouse: BuiltWarehouse, before: str, after: str
):
    path = demo_warehouse.settings.duckdb_path
    sizes = {
        month: query(
            path,
            f"select count(*) from marts.customer_segments where snapshot_month = '{month}'",
        )[0][0]
        for month in (before, after)
    }
    flows = query(
        path,
        f"""
        select dimension,
               sum(customers) filter (where from_segment <> '(new)'),
               sum(customers) filter (where to_segment <> '(gone)'),
               count(*)
        from marts.segment_migrations
        where from_month = '{before}' and to_month = '{after}'
        group by dimension order by dimension
        """,
    )
    assert [f[0] for f in flows] == ["cluster_name", "lifecycle_stage", "segment", "value_tier"]
    for dimension, leaving, arriving, _ in flows:
        assert leaving == sizes[before], dimension
        assert arriving == sizes[after], dimension
    # Per segment, too: what leaves a November segment is exactly its November size.
    mismatches = query(
        path,
        f"""
        with out_flows as (
            select dimension, from_segment as segment, sum(customers) as n
            from marts.segment_migrations where to_month = '{after}'
              and from_segment <> '(new)' group by all
        )
        select o.dimension, o.segment, o.n, s.customers
        from out_flows o
        join marts.segment_sizes s
          on s.dimension = o.dimension and s.segment = o.segment
         and s.snapshot_month = '{before}'
        where o.n <> s.customers
        """,
    )
    assert mismatches == []
    new_customers = query(
        path,
        f"""
        select sum(customers) from marts.segment_migrations
        where to_month = '{after}' and dimension = 'segment' and from_segment = '(new)'
        """,
    )[0][0]
    assert new_customers == sizes[after] - sizes[before]  # nobody left


def _append_future_orders(landing: Path, month: str, amount: str) -> int:
    """Orders of known customers, dated after the snapshot, with the same identity keys."""
    source = sorted((landing / "shop_orders").glob("*.csv"))[-1]
    with source.open(encoding="utf-8", newline="") as handle:
        rows = [
            r for r in csv.DictReader(handle) if r["customer_no"] and r["status"] == "completed"
        ]
    future = landing / "shop_orders" / f"shop_orders_{month}.csv"
    with future.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        for i, row in enumerate(rows[:200]):
            writer.writerow(
                row
                | {
                    "order_id": f"WFUTURE{i}",
                    "ordered_at": f"{month}-15 12:00:00",
                    "amount": amount,
                }
            )
    return min(len(rows), 200)


def test_orders_after_a_months_end_do_not_change_its_snapshot(
    demo_warehouse: BuiltWarehouse, tmp_path: Path
):
    """The session's November snapshot (its first load: files up to November), rebuilt from
    scratch with big January orders added to those files, comes out identical to the last bit."""
    landing, warehouse = tmp_path / "landing", tmp_path / "warehouse.duckdb"
    assert copy_landing_months(demo_warehouse.demo.landing_dir, landing, lambda m: m < "2025-12")
    tables = ("marts.customer_scores", "marts.customer_segments", "marts.clv_model_params")

    def digest(path: Path) -> dict[str, tuple]:
        return {
            t: query(
                path,
                f"select count(*), sum(hash(columns(*))) from {t} "
                "where snapshot_month = '2025-11-01'",
            )[0]
            for t in tables
        }

    # Big January orders of known customers on top of the first load's files.
    assert _append_future_orders(landing, "2026-01", "9999.00") > 50
    # The same installation (its secret salts new customer ids), rebuilt from scratch.
    with warehouse_env(landing, warehouse) as settings:
        settings.privacy_dir.mkdir(parents=True)
        shutil.copy2(demo_warehouse.settings.privacy_dir / "salt", settings.privacy_dir / "salt")
    # The same backfill as the session's (cluster ids of November follow October's).
    months = [date(2025, 10, 1), date(2025, 11, 1)]
    assert run_pipeline(landing, warehouse, months).success
    assert (
        query(warehouse, "select count(*) from marts.fct_orders where order_id like 'WFUTURE%'")[0][
            0
        ]
        > 50
    )
    assert digest(warehouse) == digest(demo_warehouse.settings.duckdb_path)
