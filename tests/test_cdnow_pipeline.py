"""A real history from the 1990s through the whole pipeline: CDNOW (1997-1998).

The CDNOW sample becomes an orders-only landing zone (one table, one currency: nothing else is
needed to build); the monthly job backfills three 1997 snapshots in one run, and the BG/NBD
parameters the pipeline publishes for 1997-09 are the ones
published by Fader, Hardie & Lee (2005) for the same calibration period.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from dagster_project.lib.publication import published_versions
from tests.conftest import query, run_pipeline

CDNOW = Path(__file__).parent / "data" / "CDNOW_sample.txt"
PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


def _cdnow_landing(landing: Path) -> int:
    folder = landing / "shop_orders"
    folder.mkdir(parents=True)
    rows = 0
    with (folder / "shop_orders_cdnow.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["order_id", "ordered_at", "customer_no", "channel", "amount", "currency"])
        for line_no, line in enumerate(CDNOW.read_text().splitlines(), start=1):
            master_id, _, day, _, dollars = line.split()
            ordered_at = f"{day[:4]}-{day[4:6]}-{day[6:]} 12:00:00"
            writer.writerow([f"CD{line_no}", ordered_at, f"K{master_id}", "web", dollars, "USD"])
            rows += 1
    return rows


def test_a_1990s_history_backfills_and_reproduces_the_published_fit(tmp_path: Path):
    landing, warehouse = tmp_path / "landing", tmp_path / "warehouse.duckdb"
    assert _cdnow_landing(landing) == 6919
    backfill = [date(1997, 7, 1), date(1997, 8, 1), date(1997, 9, 1)]
    outcome = run_pipeline(landing, warehouse, backfill, reporting_currency="USD")
    assert outcome.success, outcome.reason
    # three months, one publication: the middle of a backfill is never published
    [version] = published_versions(warehouse.parent / "warehouse.published")
    assert version.sequence == 1 and len(outcome.run_ids) == 3

    months = query(
        warehouse, "select distinct snapshot_month from marts.customer_scores order by 1"
    )
    assert [str(m[0]) for m in months] == ["1997-07-01", "1997-08-01", "1997-09-01"]
    params = dict(
        query(
            warehouse,
            "select parameter, value from marts.clv_model_params where model = 'bg_nbd' "
            "and snapshot_month = '1997-09-01'",
        )
    )
    for name, published in PUBLISHED.items():
        assert abs(params[name] / published - 1) < 0.01, (name, params[name])
    customers, fitted = query(
        warehouse,
        "select (select count(*) from marts.customer_scores where snapshot_month = '1997-09-01'),"
        " (select max(customers_fitted) from marts.clv_model_params "
        "  where snapshot_month = '1997-09-01' and model = 'bg_nbd')",
    )[0]
    assert customers == fitted == 2357
    # orders alone make customers: every one is a shop customer, every order a shop order
    systems = query(
        warehouse,
        "select string_agg(distinct source_systems, ';'), count(*) from marts.dim_customers",
    )[0]
    assert systems == ("shop", 2357)
    assert query(warehouse, "select distinct source_system from marts.fct_orders") == [("shop",)]
    flows = query(
        warehouse, "select count(*) from marts.segment_migrations where to_month = '1997-09-01'"
    )[0][0]
    assert flows > 0
