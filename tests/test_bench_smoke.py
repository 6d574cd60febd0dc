"""Smoke test of `make bench` (bench/run.py) at a tiny scale with the base dependencies only.

It runs the real pipeline on 500 demo customers (one month on a fresh warehouse; a one-month
"backfill" without the last month's files, then the last month on that warehouse), the pandas
reference, the DuckDB floor and our CLV fit (lifetimes and pymc-marketing are reported as not
installed unless the optional `bench` group is), then checks the JSON and the markdown.
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
            "1",
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
    for tool in (
        "segmentwerk",
        "backfill_1m",
        "segmentwerk_next_month",
        "pandas_reference",
        "floor",
    ):
        for key in FIGURES:
            assert run[tool][key] > 0, (tool, key)
    for tool in ("segmentwerk", "backfill_1m", "segmentwerk_next_month"):
        assert run[tool]["returncode"] == 0, run[tool].get("error")
        assert run[tool]["stages_wall_s"]["dbt_unification"] > 0
    assert run["backfill_1m"]["command"].endswith("--from 2026-09 --to 2026-09")
    # the three implementations agree on the unified customers with purchases
    assert run["pandas_reference"]["result"]["customers"] == run["floor"]["result"]["customers"]
    ours = run["clv"]["segmentwerk"]
    assert (
        ours["available"] and ours["converged"] and set(ours["params"]) == {"r", "alpha", "a", "b"}
    )
    lt = run["clv"]["lifetimes"]
    assert lt["available"] is False or lt["max_rel_diff_vs_segmentwerk"] < 0.01
    text = docs.read_text()
    assert "| 500 |" in text and "segmentwerk, one month" in text and "the monthly run" in text
