"""`make bench`: segmentwerk against the pandas reference, the DuckDB floor and other CLV fitters.

    python -m bench.run [--scales 100000,1000000] [--backfill-months 12] [--clv LIBS]

For every scale: demo data (cached in bench/data/<N>/), the real monthly job (`segmentwerk run`,
each with a fresh DAGSTER_HOME, so the Dagster step timings can be read back)
  - for the last month on a fresh warehouse (a first load: every landing file is read),
  - as a 12-month backfill on another fresh warehouse, without the last month's files,
  - for the last month on that warehouse once its files have landed: the monthly schedule's
    run (`segmentwerk_next_month`),
then the pandas + scikit-learn reference, the bare DuckDB floor and the BG/NBD fit comparison,
each in its own measured subprocess. Writes the JSON
(`--out`) and the markdown report (`--docs`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from bench.measure import run_measured
from bench.report import stage_of, stage_totals, write_markdown

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
END_MONTH = "2026-10"
AS_OF = "2026-10-31"
CLV_LIBRARIES = ("segmentwerk", "lifetimes", "pymc_marketing")
# Disk per million customers (purchase rate 7, 36 months), measured on this machine: the demo
# data 1.6 GB; a warehouse after its monthly run 13.3 GB (build database 9.6, published
# versions 2.8, exports 0.6, reports 0.3), with headroom for the build's temporary growth.
DATA_GB_PER_MILLION = 1.7
WAREHOUSE_GB_PER_MILLION = 16.0


def log(msg: str) -> None:
    print(f"[bench {datetime.now():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


def data_folder(data_dir: Path, customers: int, purchase_rate: float) -> Path:
    return data_dir / f"{customers}-rate{purchase_rate:g}"


def ensure_data(data_dir: Path, customers: int, purchase_rate: float) -> Path:
    target = data_folder(data_dir, customers, purchase_rate)
    landing = target / "landing"
    marker = target / ".complete"
    if marker.exists():
        return landing
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    log(f"generating demo data for {customers:,} customers (purchase rate x{purchase_rate:g})")
    env = {**os.environ, "LANDING_DIR": str(landing)}
    subprocess.run(
        [
            str(BIN / "segmentwerk"),
            "demo-data",
            "--customers",
            str(customers),
            "--format",
            "parquet",
            "--end-month",
            END_MONTH,
            "--truth-dir",
            str(target / "truth"),
            "--purchase-rate",
            str(purchase_rate),
            "--quiet",
        ],
        env=env,
        check=True,
    )
    marker.write_text(datetime.now(UTC).isoformat())
    return landing


def step_stats(dagster_home: Path) -> list[dict]:
    """Per-step wall times of every run recorded in this DAGSTER_HOME (Dagster's own events)."""
    import dagster as dg
    from dagster._core.instance.ref import InstanceRef

    rows = []
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(dagster_home))) as instance:
        for run in reversed(instance.get_runs()):
            for s in instance.get_run_step_stats(run.run_id):
                if s.start_time and s.end_time:
                    rows.append(
                        {
                            "run": run.tags.get("dagster/partition", run.run_id[:8]),
                            "step": s.step_key,
                            "stage": stage_of(s.step_key),
                            "wall_s": round(s.end_time - s.start_time, 2),
                        }
                    )
    return rows


DbtNodeLine = tuple[str, str, float]  # (layer, node, seconds)


def dbt_node_lines(run_log: Path, offset: int = 0) -> list[DbtNodeLine]:
    """(layer, node, seconds) of every finished dbt node in the run log after `offset` (the
    log grows with every run on the same warehouse); layer is staging, intermediate, marts,
    audit or tests."""
    if not run_log.exists():
        return []
    with run_log.open("rb") as f:
        f.seek(offset)
        text = re.sub(r"\x1b\[[0-9;]*m", "", f.read().decode(errors="replace"))
    lines = []
    for m in re.finditer(
        r"(START|OK created|PASS|WARN|ERROR|FAIL)\S* (?:sql \w+ model |test )?"
        r"(\S+) \.* \[\w+.*? in ([0-9.]+)s\]",
        text,
    ):
        name = m.group(2)
        layer = (
            "tests"
            if m.group(1) in ("PASS", "WARN", "FAIL") or "." not in name
            else name.split(".")[0]
        )
        lines.append((layer, name, float(m.group(3))))
    return lines


def dbt_node_times(lines: list[DbtNodeLine]) -> dict[str, float]:
    """Sum of dbt's own per-node times by layer (staging, intermediate, marts, audit, tests)."""
    totals: dict[str, float] = {}
    for layer, _, seconds in lines:
        totals[layer] = round(totals.get(layer, 0.0) + seconds, 2)
    return totals


def slowest_dbt_nodes(lines: list[DbtNodeLine], n: int | None = None) -> list[dict]:
    """dbt's nodes (models and tests), the most of dbt's own time first (the `n` first, or
    all): where a layer's total goes without digging through the log, and node by node
    comparable between two runs of the benchmark."""
    per_node: dict[str, float] = {}
    for _, name, seconds in lines:
        per_node[name] = per_node.get(name, 0.0) + seconds
    ranked = sorted(per_node.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    return [{"node": name, "s": round(seconds, 2)} for name, seconds in ranked]


def link_landing_months(landing: Path, target: Path, keep: Callable[[str], bool]) -> Path:
    """Symlink into `target` the landing files (`<table>/<table>_<YYYY-MM>.<ext>`) whose month
    `keep`s: the backfill's landing zone lacks the last month, which lands later."""
    for file in sorted(landing.glob("*/*")):
        if file.is_file() and keep(file.stem.rsplit("_", 1)[-1]):
            (target / file.parent.name).mkdir(parents=True, exist_ok=True)
            (target / file.parent.name / file.name).symlink_to(file.resolve())
    return target


def run_segmentwerk(landing: Path, args: list[str], label: str, work: Path | None = None) -> dict:
    """One measured `segmentwerk run` in `work` (a new folder unless given: then the warehouse
    there is built on); each run gets its own DAGSTER_HOME, so its step timings are its own."""
    work = work or Path(tempfile.mkdtemp(prefix=f"segmentwerk-bench-{label}-"))
    home = work / f"dagster_home-{label}"
    home.mkdir()
    shutil.copy(ROOT / ".dagster_home" / "dagster.yaml", home / "dagster.yaml")
    env = {
        **os.environ,
        "LANDING_DIR": str(landing),
        "DUCKDB_PATH": str(work / "warehouse.duckdb"),
        "DAGSTER_HOME": str(home),
    }
    run_log = work / "warehouse.logs" / "segmentwerk-run.log"
    log_offset = run_log.stat().st_size if run_log.exists() else 0
    log(f"segmentwerk run {' '.join(args)} ({label})")
    m = run_measured([str(BIN / "segmentwerk"), "run", "--quiet", *args], env=env, cwd=ROOT)
    out = {
        **m.figures(),
        "returncode": m.returncode,
        "command": f"segmentwerk run {' '.join(args)}",
    }
    if m.returncode != 0:
        out["error"] = (m.stderr or m.stdout).strip().splitlines()[-1:] or ["?"]
    steps = step_stats(home)
    out["stages_wall_s"] = stage_totals(steps)
    out["steps"] = steps
    node_lines = dbt_node_lines(run_log, log_offset)  # the log is read once for both
    out["dbt_node_s"] = dbt_node_times(node_lines)
    out["dbt_nodes_slowest_first"] = slowest_dbt_nodes(node_lines)
    out["rss_timeline_mb"] = m.samples
    out["warehouse"] = str(work)
    return out


def run_module(module: str, *argv: str) -> tuple[dict, dict]:
    m = run_measured([sys.executable, "-m", module, *argv], cwd=ROOT)
    try:
        payload = json.loads(m.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        payload = {"error": (m.stderr or "no output").strip().splitlines()[-1:]}
    return {**m.figures(), "returncode": m.returncode}, payload


def clv_comparison(rft: Path, libraries: list[str]) -> dict:
    results = {}
    for lib in libraries:
        log(f"CLV fit: {lib}")
        figures, payload = run_module("bench.clv_compare", str(rft), lib)
        results[lib] = {**payload, "process": figures}
    ours = results.get("segmentwerk", {}).get("params")
    for lib, res in results.items():
        if lib == "segmentwerk" or not ours or not res.get("params"):
            continue
        res["max_rel_diff_vs_segmentwerk"] = round(
            max(abs(res["params"][k] - ours[k]) / abs(res["params"][k]) for k in ours), 6
        )
        if res.get("fit_s") and results["segmentwerk"].get("fit_s"):
            res["segmentwerk_speedup_fit"] = round(
                res["fit_s"] / results["segmentwerk"]["fit_s"], 1
            )
    return results


def bench_scale(
    customers: int,
    data_dir: Path,
    purchase_rate: float,
    backfill_months: int,
    clv_libs: list[str],
    keep: bool,
) -> dict:
    entry: dict = {"customers": customers, "purchase_rate": purchase_rate}
    short = disk_shortfall(customers, data_dir, purchase_rate, keep)
    if short:
        log(f"skipping {customers:,} customers: {short}")
        return {**entry, "skipped": short}
    landing = ensure_data(data_dir, customers, purchase_rate)
    log(f"floor ({customers:,})")
    rft = data_folder(data_dir, customers, purchase_rate) / "rft.parquet"
    entry["floor"], floor_out = run_module("bench.floor", str(landing), AS_OF, str(rft))
    entry["floor"]["result"] = floor_out
    entry["orders"] = floor_out.get("orders")
    entry["unified_customers_with_purchases"] = floor_out.get("customers")
    log(f"pandas reference ({customers:,})")
    entry["pandas_reference"], pd_out = run_module("bench.pandas_reference", str(landing), AS_OF)
    entry["pandas_reference"]["result"] = pd_out
    entry["segmentwerk"] = run_segmentwerk(landing, ["--month", END_MONTH], f"{customers}-month")
    if not keep:  # one warehouse on disk at a time
        shutil.rmtree(entry["segmentwerk"].pop("warehouse"), ignore_errors=True)
    if backfill_months > 0:
        # The first load of an installation: every file but the last month's, backfilled; then
        # the last month's files land and the monthly job runs on that warehouse, as the
        # schedule does every month (staging reads only the new files).
        work = Path(tempfile.mkdtemp(prefix=f"segmentwerk-bench-{customers}-loaded-"))
        loaded = link_landing_months(landing, work / "landing", lambda m: m != END_MONTH)
        last = _month_minus(END_MONTH, 1)
        start = _month_minus(last, backfill_months - 1)
        entry["backfill_12m" if backfill_months == 12 else f"backfill_{backfill_months}m"] = (
            run_segmentwerk(loaded, ["--from", start, "--to", last], f"{customers}-backfill", work)
        )
        link_landing_months(landing, loaded, lambda m: m == END_MONTH)
        entry["segmentwerk_next_month"] = run_segmentwerk(
            loaded, ["--month", END_MONTH], f"{customers}-next-month", work
        )
    entry["clv"] = clv_comparison(rft, clv_libs)
    if not keep:
        for key in [k for k in entry if k.startswith(("segmentwerk", "backfill_"))]:
            warehouse = entry[key].pop("warehouse", None)
            if warehouse:
                shutil.rmtree(warehouse, ignore_errors=True)
    return entry


def disk_shortfall(customers: int, data_dir: Path, purchase_rate: float, keep: bool) -> str | None:
    """Why a scale cannot run on this machine's free disk (None when it fits): an estimate
    from the measured sizes above, checked before hours of generating and loading rather than
    failing on a full disk half-way."""
    millions = customers / 1_000_000
    cached = (data_folder(data_dir, customers, purchase_rate) / ".complete").exists()
    needs = {
        "demo data": (data_dir, 0.0 if cached else DATA_GB_PER_MILLION * millions),
        # the first-load warehouse is deleted before the backfill's is built, unless kept
        "warehouses": (
            Path(tempfile.gettempdir()),
            WAREHOUSE_GB_PER_MILLION * millions * (2 if keep else 1),
        ),
    }
    by_device: dict[int, tuple[Path, float, list[str]]] = {}
    for what, (folder, gb) in needs.items():
        existing = next(p for p in (folder, *folder.parents) if p.exists())
        device = existing.stat().st_dev
        _, total, parts = by_device.get(device, (existing, 0.0, []))
        by_device[device] = (existing, total + gb, [*parts, f"{what} ~{gb:.0f} GB"])
    for folder, gb, parts in by_device.values():
        free = shutil.disk_usage(folder).free / 1e9
        if gb > free:
            return (
                f"needs ~{gb:.0f} GB of disk ({', '.join(parts)}), "
                f"{free:.0f} GB free on the file system of {folder}"
            )
    return None


def _month_minus(month: str, n: int) -> str:
    y, m = map(int, month.split("-"))
    idx = y * 12 + (m - 1) - n
    return f"{idx // 12:04d}-{idx % 12 + 1:02d}"


def environment() -> dict:
    def ver(pkg: str) -> str | None:
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return None

    mem_kb = int(
        next(
            line
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ).split()[1]
    )
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpu": cpu,
            "cores": os.cpu_count(),
            "memory_gb": round(mem_kb / 2**20, 1),
            "platform": platform.platform(),
            "loadavg_at_start": os.getloadavg(),
        },
        "python": platform.python_version(),
        "versions": {
            p: ver(p)
            for p in (
                "segmentwerk",
                "duckdb",
                "dbt-core",
                "dbt-duckdb",
                "dagster",
                "polars",
                "pandas",
                "numpy",
                "scipy",
                "scikit-learn",
                "lifetimes",
                "pymc-marketing",
                "pymc",
            )
        },
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--scales",
        default="100000,1000000",
        help="customer counts, comma-separated (10000000 is opt-in)",
    )
    p.add_argument("--backfill-months", type=int, default=12)
    p.add_argument(
        "--purchase-rate",
        type=float,
        default=7.0,
        help="demo data purchase-rate multiplier (7: ~20 purchases per customer in two years)",
    )
    p.add_argument("--clv", default=",".join(CLV_LIBRARIES), help="CLV fitters to compare")
    p.add_argument("--data-dir", default=str(ROOT / "bench" / "data"))
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "latest.json"))
    p.add_argument("--docs", default=str(ROOT / "docs" / "benchmarks.md"))
    p.add_argument("--keep-warehouses", action="store_true")
    args = p.parse_args(argv)
    scales = [int(s.replace("_", "")) for s in args.scales.split(",") if s.strip()]
    result = {
        **environment(),
        "command": "python -m bench.run " + " ".join(argv or sys.argv[1:]),
        "as_of": AS_OF,
        "backfill_months": args.backfill_months,
        "runs": [],
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    for n in scales:
        result["runs"].append(
            bench_scale(
                n,
                Path(args.data_dir),
                args.purchase_rate,
                args.backfill_months,
                [c for c in args.clv.split(",") if c],
                args.keep_warehouses,
            )
        )
        result["loadavg_at_end"] = os.getloadavg()
        result["total_wall_s"] = round(time.perf_counter() - t0, 1)
        out.write_text(json.dumps(result, indent=2, default=str) + "\n")  # after every scale
        write_markdown(result, Path(args.docs))
    log(f"wrote {out} and {args.docs}")
    failed = [
        r["customers"]
        for r in result["runs"]
        for key, f in r.items()
        if key.startswith(("segmentwerk", "backfill_")) and f.get("returncode")
    ]
    skipped = [r["customers"] for r in result["runs"] if r.get("skipped")]
    return 1 if failed or skipped else 0


if __name__ == "__main__":
    sys.exit(main())
