"""`segmentwerk`: the scripted way to run the same Dagster job as the UI and the schedule."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from dagster_project.lib.months import add_months, last_complete_month, month_range, parse_month
from dagster_project.lib.settings import load_settings


def _months_from_args(args: argparse.Namespace) -> list[date]:
    if sum(bool(x) for x in (args.month, args.from_month or args.to_month, args.last)) > 1:
        raise ValueError("use one of --month, --from/--to, --last")
    if args.last:
        end = last_complete_month()
        return month_range(add_months(end, 1 - args.last), end)
    if args.from_month or args.to_month:
        start = parse_month(args.from_month or args.to_month)
        end = parse_month(args.to_month) if args.to_month else last_complete_month()
        return month_range(start, end)
    return [parse_month(args.month) if args.month else last_complete_month()]


def _cmd_demo_data(args: argparse.Namespace) -> int:
    from dagster_project.lib.demo_data import generate_demo_data

    settings = load_settings()
    truth_dir = (
        Path(args.truth_dir).resolve()
        if args.truth_dir
        else (settings.landing_dir.parent / "demo_truth")
    )
    summary = generate_demo_data(
        settings.landing_dir,
        truth_dir,
        customers=args.customers,
        months=args.months,
        end_month=args.end_month,
        seed=args.seed,
        file_format=args.format,
        purchase_rate=args.purchase_rate,
        progress=None if args.quiet else lambda msg: print(msg, file=sys.stderr, flush=True),
    )
    print(summary)
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from dagster_project.lib.landing_contract import missing_required_tables_reason

    months = _months_from_args(args)
    # Said at once, before Dagster, dbt and the warehouse are loaded (the job says the same).
    reason = missing_required_tables_reason(load_settings().landing_dir)
    if reason:
        print(f"segmentwerk run failed: {months[0]:%Y-%m}: {reason}", file=sys.stderr)
        return 1

    from dagster_project.lib.job_runner import run_months, summarize_warehouse

    outcome = run_months(
        months,
        quiet=args.quiet,
        progress=None if args.quiet else lambda msg: print(msg, file=sys.stderr, flush=True),
    )
    if not outcome.success:
        print(f"segmentwerk run failed: {outcome.reason}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(summarize_warehouse(load_settings(), months))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="segmentwerk", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo-data", help="write the synthetic multi-source demo data set")
    demo.add_argument("--customers", type=int, default=5000)
    demo.add_argument("--months", type=int, default=24)
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--end-month", help="last month of history, YYYY-MM (default: last complete)")
    demo.add_argument("--format", choices=("csv", "parquet"), default="csv")
    demo.add_argument(
        "--purchase-rate",
        type=float,
        default=1.0,
        help="multiplies every person's purchase rate (1: ~3 purchases per customer in two "
        "years; 7: ~20)",
    )
    demo.add_argument("--truth-dir", help="ground truth folder (default: beside the landing zone)")
    demo.add_argument("--quiet", action="store_true")
    demo.set_defaults(func=_cmd_demo_data)

    run = sub.add_parser("run", help="run the monthly re-segmentation job in-process")
    run.add_argument("--month", help="snapshot month YYYY-MM (default: last complete month)")
    run.add_argument("--from", dest="from_month", help="first month of a range, YYYY-MM")
    run.add_argument("--to", dest="to_month", help="last month of a range, YYYY-MM")
    run.add_argument("--last", type=int, help="the last N complete months")
    run.add_argument("--quiet", action="store_true", help="no progress, no summary")
    run.set_defaults(func=_cmd_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValueError as exc:  # bad arguments: one line, no traceback
        print(f"segmentwerk: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
