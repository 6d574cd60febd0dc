"""Smoke test of `make bench` (bench/run.py) at a tiny scale with the base dependencies only.

It runs the real pipeline once (one month, no backfill) on 500 demo customers, the pandas
reference, the DuckDB floor and our CLV fit (lifetimes and pymc-marketing are reported as not
installed unless the optional `bench` group is), then checks the JSON and the markdown. The
backfill and the monthly run on the loaded warehouse are the same `segmentwerk run` on other
landing folders (their pipeline path is tests/test_incremental_and_minimal.py's); the folders
and the log parsing have their own fast tests here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ("wall_s", "cpu_s", "peak_rss_mb")


def test_bench_smoke(tmp_path: Path) -> None:
    out, docs = tmp_path / "latest.json", tmp_path / "benchmarks.md"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--scales",
            "500",
            "--backfill-months",
            "0",
            "--purchase-rate",
            "1",
            "--clv",
            "segmentwerk,lifetimes",
            "--data-dir",
            str(tmp_path / "data"),
            "--out",
            str(out),
            "--docs",
            str(docs),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["machine"]["cores"] >= 1 and result["versions"]["duckdb"]
    (run,) = result["runs"]
    assert run["customers"] == 500 and run["orders"] > 500 and run["purchase_rate"] == 1
    for tool in ("segmentwerk", "pandas_reference", "floor"):
        for key in FIGURES:
            assert run[tool][key] > 0, (tool, key)
    assert run["segmentwerk"]["returncode"] == 0
    assert run["segmentwerk"]["stages_wall_s"]["dbt_unification"] > 0
    nodes = run["segmentwerk"]["dbt_nodes_slowest_first"]
    assert nodes and nodes[0]["s"] >= nodes[-1]["s"] > 0
    # every node of the build is listed (models and tests), not only the slowest few
    assert len(nodes) > 100 and any(r["node"] == "marts.dim_customers" for r in nodes)
    # the three implementations agree on the unified customers with purchases
    assert run["pandas_reference"]["result"]["customers"] == run["floor"]["result"]["customers"]
    ours = run["clv"]["segmentwerk"]
    assert (
        ours["available"] and ours["converged"] and set(ours["params"]) == {"r", "alpha", "a", "b"}
    )
    lt = run["clv"]["lifetimes"]
    assert lt["available"] is False or lt["max_rel_diff_vs_segmentwerk"] < 0.01
    text = docs.read_text()
    assert "| 500 |" in text and "segmentwerk, one month" in text
    assert "slowest dbt nodes: `" in text
    # the aggregation step against the floor: a ratio, not a dash
    section = text.split("## Ratios")[1].split("\n## ")[0]
    (ratios,) = [line for line in section.splitlines() if line.startswith("| 500 |")]
    aggregation_step = ratios.split("|")[5].strip()
    assert float(aggregation_step) > 0, ratios


def test_dbt_node_times_reads_only_the_run_after_the_offset(tmp_path: Path) -> None:
    """Runs on one warehouse append to one log; each run's figures are its own lines."""
    from bench.run import dbt_node_lines, dbt_node_times, slowest_dbt_nodes

    log = tmp_path / "segmentwerk-run.log"
    first = (
        "1 of 2 OK created sql incremental model staging.base_web__events ..... [OK in 30.00s]\n"
    )
    log.write_text(first + "2 of 2 PASS unique_x ...... [PASS in 2.00s]\n")
    offset = log.stat().st_size
    with log.open("a") as f:
        f.write(
            "1 of 2 OK created sql incremental model staging.base_web__events ... [OK in 4.50s]\n"
        )
    whole, after_offset = dbt_node_lines(log), dbt_node_lines(log, offset)
    assert dbt_node_times(whole) == {"staging": 34.5, "tests": 2.0}
    assert dbt_node_times(after_offset) == {"staging": 4.5}
    assert slowest_dbt_nodes(whole) == [
        {"node": "staging.base_web__events", "s": 34.5},
        {"node": "unique_x", "s": 2.0},
    ]
    assert slowest_dbt_nodes(after_offset, n=1) == [{"node": "staging.base_web__events", "s": 4.5}]


def test_the_loaded_warehouse_gets_the_last_month_later(tmp_path: Path) -> None:
    """The backfill's landing zone holds every file but the last month's; they land later."""
    from bench.run import link_landing_months

    source = tmp_path / "source"
    for table in ("shop_orders", "web_events"):
        (source / table).mkdir(parents=True)
        for month in ("2026-08", "2026-09", "2026-10"):
            (source / table / f"{table}_{month}.parquet").write_text(month)
    loaded = link_landing_months(source, tmp_path / "loaded", lambda m: m != "2026-10")
    assert sorted(p.name for p in loaded.glob("*/*")) == [
        "shop_orders_2026-08.parquet",
        "shop_orders_2026-09.parquet",
        "web_events_2026-08.parquet",
        "web_events_2026-09.parquet",
    ]
    link_landing_months(source, loaded, lambda m: m == "2026-10")
    files = sorted(loaded.glob("*/*"))
    assert len(files) == 6 and all(f.is_symlink() for f in files)
    assert (loaded / "web_events" / "web_events_2026-10.parquet").read_text() == "2026-10"


def test_steps_are_summed_by_the_stage_their_key_names() -> None:
    """The lookalike model (`marts__prospect_scores`) is segmentation, not a value score."""
    from bench.report import stage_totals

    steps = [
        {"step": "unification_dbt_models", "wall_s": 50.0},
        {"step": "quality_gate_unification", "wall_s": 5.0},
        {"step": "customer_scores", "wall_s": 4.0},
        {"step": "marts__prospect_scores", "wall_s": 2.0},
        {"step": "marts__customer_segments", "wall_s": 3.0},
        {"step": "published_warehouse", "wall_s": 8.0},
    ]
    assert stage_totals(steps) == {
        "dbt_unification": 50.0,
        "quality_gate": 5.0,
        "scoring": 4.0,
        "segmentation": 5.0,
        "publication": 8.0,
    }


def test_a_scale_the_disk_cannot_hold_is_skipped_with_its_reason(tmp_path: Path) -> None:
    """Checked before any data is generated: the figures say why the scale is missing, and
    the command fails instead of reporting a complete benchmark."""
    from bench.run import main

    out, docs = tmp_path / "latest.json", tmp_path / "benchmarks.md"
    argv = ["--scales", "100000000000", "--data-dir", str(tmp_path / "data")]
    assert main([*argv, "--out", str(out), "--docs", str(docs)]) == 1
    (run,) = json.loads(out.read_text())["runs"]
    assert run["skipped"].startswith("needs ~") and "GB free" in run["skipped"]
    assert "demo data ~170000 GB" in run["skipped"] and "floor" not in run
    assert not (tmp_path / "data").exists()
    assert f"| 100,000,000,000 | – | not run: {run['skipped']} |" in docs.read_text()
