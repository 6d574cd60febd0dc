"""Synthetic multi-source data of a European fashion & lifestyle retailer.

`generate_demo_data` writes the landing zone of the contract plus a ground truth outside it.

Landing zone: `<landing_dir>/<table>/<table>_<YYYY-MM>.<csv|parquet>`, one file per table and
calendar month of the table's date column (order_lines go with their order). CSV: header,
comma, UTF-8, `YYYY-MM-DD` dates, `YYYY-MM-DD HH:MM:SS` timestamps (no zone), amounts with a
dot and 2 decimals (fx rates 6), booleans `true`/`false`, empty field = null. Parquet: the
same columns as string / timestamp[us] / date32 / double / int32 / bool. Columns beyond the
contract: crm_customers.region, order_lines.line_no, erasure_requests.request_id.

Deliberately bad rows (about `bad_row_rate` of each table's rows; fx_rates and
erasure_requests stay clean), corrupted in place unless noted:
- missing_key: the record key is empty (order_lines: order_id; crm: customer_no ...)
- missing_required: shop/store currency empty; loyalty card without customer_no
- unparsable_amount: CSV "12,50" or junk like "abc"; Parquet cannot hold text in a double
  column, so there the amount is null
- negative_amount, unknown_currency ("XYZ")
- future_timestamp: the date column 50-80 years ahead; the row stays in its original month file
- duplicate_conflict: a second row with the same id and a different amount (both rows bad)

Ground truth in `truth_dir`:
- identity_truth.parquet: source_system, source_key, person_id (null for anonymous store
  sales), is_bad_row (a bad row carries this key), one row per record key in the landing zone
- persons.parquet: every person's drawn attributes and behaviour parameters
- bad_rows.parquet: table, file, row_number (1-based data row, the CSV header not counted),
  source_key, kind
- generation.json: the arguments and the population parameters (time unit: day)

Persons are generated in chunks of `CHUNK_SIZE`, each from its own seeded generator, and rows
are streamed to the month files, so a million customers fit in about 1.5 GB of memory. The
output depends only on the arguments: same arguments, byte-identical files.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from ._activity import CHUNK_SIZE, ChunkBuilder, IdCounters
from ._calendar import Calendar, build_calendar, default_end_month, simulate_fx
from ._output import DemoSink, inject_bad_rows
from ._persons import TRUE_PARAMS, EmailRegistry, draw_persons, population_params
from ._tables import COLUMNS, DATE_COLUMN, KEY_COLUMN, TABLES, conform

__all__ = [
    "CHUNK_SIZE",
    "COLUMNS",
    "DATE_COLUMN",
    "KEY_COLUMN",
    "TABLES",
    "TRUE_PARAMS",
    "DemoDataSummary",
    "generate_demo_data",
]

# Entropy tag of the fx stream; chunk numbers never get this large.
_FX_STREAM = 1_000_000_007


@dataclass(frozen=True)
class DemoDataSummary:
    landing_dir: Path
    truth_dir: Path
    file_format: str
    persons: int
    first_day: dt.date
    last_day: dt.date
    rows: dict[str, int] = field(default_factory=dict)
    files: dict[str, int] = field(default_factory=dict)
    bad_rows: int = 0

    def __str__(self) -> str:
        width = max(len(t) for t in self.rows) if self.rows else 0
        lines = [
            f"Demo data: {self.persons:,} persons, {self.first_day} .. {self.last_day}, "
            f"{self.file_format} files in {self.landing_dir}",
        ]
        for table in self.rows:
            lines.append(
                f"  {table:<{width}}  {self.rows[table]:>12,} rows  {self.files[table]:>4} files"
            )
        lines.append(f"  {self.bad_rows:,} deliberately bad rows; ground truth in {self.truth_dir}")
        return "\n".join(lines)


def generate_demo_data(
    landing_dir: Path,
    truth_dir: Path,
    *,
    customers: int = 5000,
    months: int = 24,
    end_month: str | None = None,
    seed: int = 42,
    file_format: str = "csv",
    bad_row_rate: float = 0.002,
    purchase_rate: float = 1.0,
    progress: Callable[[str], None] | None = None,
) -> DemoDataSummary:
    """Write the demo landing zone and its ground truth; see the module docstring.

    `end_month` ('YYYY-MM') is the last month of history, by default the last complete month
    before today. Only the table folders of the contract under `landing_dir` are replaced.
    `purchase_rate` multiplies every person's purchase rate (1.0: about 3 purchases per
    customer in two years, as in CDNOW; 7.0 gives the ~20 of a busy retailer).
    """
    if file_format not in ("csv", "parquet"):
        raise ValueError(f"file_format must be 'csv' or 'parquet', got {file_format!r}")
    if customers < 1:
        raise ValueError("customers must be at least 1")
    if seed < 0:
        raise ValueError("seed must be non-negative")
    if not purchase_rate > 0:
        raise ValueError("purchase_rate must be positive")
    params = population_params(purchase_rate)
    report = progress or (lambda _message: None)
    landing_dir, truth_dir = Path(landing_dir), Path(truth_dir)
    cal = build_calendar(end_month or default_end_month(dt.date.today()), months)
    fx = simulate_fx(np.random.default_rng([seed, _FX_STREAM]), cal.n_days)

    for table in TABLES:
        shutil.rmtree(landing_dir / table, ignore_errors=True)
        (landing_dir / table).mkdir(parents=True)
    truth_dir.mkdir(parents=True, exist_ok=True)
    sink = DemoSink(landing_dir, truth_dir, file_format, cal.month_labels)
    counters = IdCounters()
    emails = EmailRegistry()
    currencies: set[str] = set()
    n_chunks = -(-customers // CHUNK_SIZE)
    try:
        # One background writer: chunk k is written while chunk k+1 is simulated.
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending: Future[None] | None = None
            for chunk_no in range(n_chunks):
                rng = np.random.default_rng([seed, chunk_no])
                first = chunk_no * CHUNK_SIZE
                size = min(CHUNK_SIZE, customers - first)
                persons = draw_persons(rng, first, size, cal, emails, params)
                if chunk_no == 0 and customers >= 1000 and not np.isfinite(persons.erased_s).any():
                    # Erasure must be testable on every realistic data set: force one request.
                    persons.erased_s[0] = persons.acquired_s[0] + 0.5 * (
                        cal.end_seconds - persons.acquired_s[0]
                    )
                result = ChunkBuilder(rng, persons, cal, fx, chunk_no, counters).build()
                currencies |= result.currencies
                frames = {
                    table: inject_bad_rows(rng, table, frame, bad_row_rate)
                    for table, frame in result.frames.items()
                }
                if pending is not None:
                    pending.result()
                pending = pool.submit(sink.write_chunk, frames, result.persons_truth)
                report(f"chunk {chunk_no + 1}/{n_chunks}: {first + size:,} persons simulated")
            if pending is not None:
                pending.result()
        sink.write_table("fx_rates", _fx_frame(fx, sorted(currencies), cal))
    finally:
        all_bad = sink.close()

    (truth_dir / "generation.json").write_text(
        json.dumps(
            {
                "customers": customers,
                "months": months,
                "end_month": cal.month_labels[-1],
                "seed": seed,
                "file_format": file_format,
                "bad_row_rate": bad_row_rate,
                "chunk_size": CHUNK_SIZE,
                "purchase_rate": purchase_rate,
                "true_params": params,
                "time_unit": "day",
            },
            indent=2,
            sort_keys=True,
        )
        + "\n"
    )

    rows: dict[str, int] = {table: 0 for table in TABLES}
    files: dict[str, int] = {table: 0 for table in TABLES}
    for path, count in sorted(sink.landing.rows.items()):
        rows[path.parent.name] += count
        files[path.parent.name] += 1
    last_day = cal.start + (cal.n_days - 1)
    return DemoDataSummary(
        landing_dir=landing_dir,
        truth_dir=truth_dir,
        file_format=file_format,
        persons=customers,
        first_day=cal.start.astype(dt.date),
        last_day=last_day.astype(dt.date),
        rows=rows,
        files=files,
        bad_rows=all_bad.height,
    )


def _fx_frame(fx: dict[str, np.ndarray], currencies: list[str], cal: Calendar) -> pl.DataFrame:
    days = np.arange(cal.n_days)
    frames = [
        conform(
            "fx_rates",
            {
                "currency": np.full(cal.n_days, cur),
                "rate_date": cal.start + days,
                "rate_to_reporting": fx[cur],
            },
            cal.day_month[days],
            pl.Series([None] * cal.n_days, dtype=pl.String),
        )
        for cur in currencies
    ]
    if not frames:
        return conform(
            "fx_rates",
            {"currency": [], "rate_date": [], "rate_to_reporting": []},
            np.array([], dtype=np.int32),
            pl.Series([], dtype=pl.String),
        )
    # Day by day, all currencies of a day together, as a rate feed delivers them.
    return pl.concat(frames).sort("rate_date", "currency", maintain_order=True)
