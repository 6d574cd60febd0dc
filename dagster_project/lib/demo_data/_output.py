"""Bad-row injection, month-file writers and the ground truth derived from written rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from ._tables import BAD_KINDS, COLUMNS, DATE_COLUMN, DECIMALS, KEY_COLUMN, arrow_schema

HIDDEN = ("_m", "_ord", "_pid", "_bad", "_amount_text")
_JUNK_AMOUNTS = np.array(["abc", "n/a", "#WERT!", "--", "12.5.0"])

# Source systems of the identity truth: the key columns that carry them (in every table),
# and the table whose bad rows make the key bad.
TRUTH_SOURCES: tuple[tuple[str, tuple[tuple[str, str], ...], str | None], ...] = (
    (
        "crm",
        (
            ("crm_customers", "customer_no"),
            ("shop_orders", "customer_no"),
            ("loyalty_cards", "customer_no"),
            ("erasure_requests", "customer_no"),
        ),
        "crm_customers",
    ),
    ("shop_account", (("shop_orders", "shop_account_id"), ("web_events", "shop_account_id")), None),
    ("shop_order", (("shop_orders", "order_id"), ("order_lines", "order_id")), "shop_orders"),
    (
        "loyalty_card",
        (("loyalty_cards", "loyalty_card_no"), ("store_transactions", "loyalty_card_no")),
        "loyalty_cards",
    ),
    ("store_transaction", (("store_transactions", "transaction_id"),), "store_transactions"),
    ("prospect", (("prospects", "prospect_id"),), "prospects"),
)
IDENTITY_SCHEMA = pa.schema(
    [
        ("source_system", pa.string()),
        ("source_key", pa.string()),
        ("person_id", pa.string()),
        ("is_bad_row", pa.bool_()),
    ]
)
BAD_ROW_SCHEMA = {
    "table": pl.String,
    "file": pl.String,
    "row_number": pl.Int64,
    "source_key": pl.String,
    "kind": pl.String,
}


def inject_bad_rows(
    rng: np.random.Generator, table: str, frame: pl.DataFrame, rate: float
) -> pl.DataFrame:
    """Corrupt a `rate` share of rows in place (plus conflicting duplicates as extra rows)."""
    kinds = BAD_KINDS.get(table, ())
    if not kinds or rate <= 0 or frame.height == 0:
        return frame
    n_bad = int(rng.binomial(frame.height, min(rate, 1.0)))
    if n_bad == 0:
        return frame
    rows = np.sort(rng.choice(frame.height, n_bad, replace=False))
    kind = np.array(kinds)[rng.integers(0, len(kinds), n_bad)]
    key, date_col = KEY_COLUMN[table], DATE_COLUMN[table]
    updates: dict[str, pl.Series] = {"_bad": frame["_bad"].scatter(rows, kind)}

    def rows_of(name: str) -> np.ndarray:
        return rows[kind == name]

    if len(r := rows_of("missing_key")):
        updates[key] = frame[key].scatter(r, None)
    if len(r := rows_of("missing_required")):
        col = "customer_no" if table == "loyalty_cards" else "currency"
        updates[col] = frame[col].scatter(r, None)
    if "amount" in frame.columns:
        amount = frame["amount"]
        text = frame["_amount_text"]
        if len(r := rows_of("unparsable_amount")):
            # the German spreadsheet habit: "12,50"
            comma = (
                frame.select(_decimal_text("amount", 2))
                .to_series()
                .gather(r)
                .str.replace(".", ",", literal=True)
                .to_numpy()
                .astype(object)
            )
            junk = _JUNK_AMOUNTS[rng.integers(0, len(_JUNK_AMOUNTS), len(r))]
            text = text.scatter(r, np.where(rng.random(len(r)) < 0.6, comma, junk))
            amount = amount.scatter(r, None)
        if len(r := rows_of("negative_amount")):
            amount = amount.scatter(r, -amount.gather(r))
        updates["amount"], updates["_amount_text"] = amount, text
    if len(r := rows_of("unknown_currency")):
        # missing_required may have changed this column already
        updates["currency"] = updates.get("currency", frame["currency"]).scatter(r, "XYZ")
    if len(r := rows_of("future_timestamp")) and date_col is not None:
        years = rng.integers(50, 80, len(r))
        shift = pl.Series(years * 365 * 86_400 * 1_000_000, dtype=pl.Int64).cast(pl.Duration("us"))
        updates[date_col] = frame[date_col].scatter(r, frame[date_col].gather(r) + shift)
    out = frame.with_columns(**updates)
    if len(r := rows_of("duplicate_conflict")):
        # The same id exported twice with different content (a later correction that
        # kept the id); neither version can be trusted.
        dup = out[r].with_columns(
            (pl.col("amount") * pl.Series(rng.uniform(1.1, 1.6, len(r)))).round(2),
            pl.col("_ord") + 0.5,
        )
        out = pl.concat([out, dup]).sort("_ord")
    return out


def _decimal_text(column: str, decimals: int) -> pl.Expr:
    """Fixed-point text with a dot ('12.50', '-3.00'), exact for values already rounded."""
    scale = 10**decimals
    scaled = (pl.col(column) * scale).round(0).cast(pl.Int64)
    magnitude = scaled.abs()
    return pl.concat_str(
        [
            pl.when(scaled < 0).then(pl.lit("-")).otherwise(pl.lit("")),
            (magnitude // scale).cast(pl.String),
            pl.lit("."),
            (magnitude % scale).cast(pl.String).str.zfill(decimals),
        ]
    ).alias(column)


class MonthFileWriter:
    """Appends frames to `<landing>/<table>/<table>_<YYYY-MM>.<ext>`, one file per month.

    CSV files are appended chunk by chunk; Parquet files keep one open writer each and get a
    row group per chunk, so memory stays bounded by the chunk size.
    """

    def __init__(self, landing_dir: Path, file_format: str, labels: tuple[str, ...]) -> None:
        self.landing_dir = landing_dir
        self.file_format = file_format
        self.labels = labels
        self.rows: dict[Path, int] = {}
        self._parquet: dict[Path, pq.ParquetWriter] = {}

    def path(self, table: str, month: int) -> Path:
        return self.landing_dir / table / f"{table}_{self.labels[month]}.{self.file_format}"

    def write(self, table: str, frame: pl.DataFrame) -> pl.DataFrame:
        """Write the rows to their month files; returns where the bad rows ended up."""
        located: list[pl.DataFrame] = []
        if frame.height == 0:
            return pl.DataFrame(schema=BAD_ROW_SCHEMA)
        key = KEY_COLUMN[table]
        if not frame["_m"].is_sorted():
            frame = frame.sort("_m", "_ord")
        # Slices of a frame sorted by month are zero-copy, unlike partition_by.
        months = frame["_m"].to_numpy()
        bounds = np.searchsorted(months, np.arange(months[0], months[-1] + 2))
        for month, start_row, stop_row in zip(
            range(months[0], months[-1] + 1), bounds[:-1], bounds[1:], strict=True
        ):
            if stop_row == start_row:
                continue
            part = frame.slice(int(start_row), int(stop_row - start_row))
            path = self.path(table, int(month))
            start = self.rows.get(path, 0)
            bad = part.with_row_index("_row").filter(pl.col("_bad").is_not_null())
            if bad.height:
                located.append(
                    bad.select(
                        pl.lit(table).alias("table"),
                        pl.lit(path.name).alias("file"),
                        (pl.col("_row").cast(pl.Int64) + start + 1).alias("row_number"),
                        pl.col(key).cast(pl.String).alias("source_key"),
                        pl.col("_bad").alias("kind"),
                    )
                )
            self._append(table, path, part, start == 0)
            self.rows[path] = start + part.height
        if not located:
            return pl.DataFrame(schema=BAD_ROW_SCHEMA)
        return pl.concat(located)

    def _append(self, table: str, path: Path, part: pl.DataFrame, first: bool) -> None:
        columns = [name for name, _ in COLUMNS[table]]
        if self.file_format == "csv":
            text = [
                _decimal_text(name, DECIMALS[kind])
                for name, kind in COLUMNS[table]
                if kind in DECIMALS
            ]
            out = part.with_columns(text)
            if "amount" in part.columns:
                out = out.with_columns(pl.coalesce("_amount_text", "amount").alias("amount"))
            with path.open("ab") as handle:
                out.select(columns).write_csv(
                    handle,
                    include_header=first,
                    datetime_format="%Y-%m-%d %H:%M:%S",
                    date_format="%Y-%m-%d",
                )
            return
        table_arrow = part.select(columns).to_arrow().cast(arrow_schema(table))
        writer = self._parquet.get(path)
        if writer is None:
            writer = pq.ParquetWriter(path, arrow_schema(table), compression="zstd")
            self._parquet[path] = writer
        writer.write_table(table_arrow)

    def close(self) -> None:
        for writer in self._parquet.values():
            writer.close()
        self._parquet.clear()


def identity_truth(frames: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """One row per source record key found in the written frames, with its true person."""
    out: list[pl.DataFrame] = []
    for system, carriers, primary in TRUTH_SOURCES:
        pieces = []
        for table, column in carriers:
            frame = frames[table]
            pieces.append(
                frame.select(
                    pl.col(column).alias("source_key"),
                    pl.col("_pid").alias("person_id"),
                    (pl.col("_bad").is_not_null() & pl.lit(table == primary)).alias("is_bad_row"),
                ).filter(pl.col("source_key").is_not_null())
            )
        keys = (
            pl.concat(pieces)
            .group_by("source_key")
            .agg(pl.col("person_id").drop_nulls().first(), pl.col("is_bad_row").any())
            .sort("source_key")
        )
        out.append(keys.select(pl.lit(system).alias("source_system"), pl.all()))
    return pl.concat(out)


class DemoSink:
    """Everything one generation writes: landing month files and the ground truth files.

    `write_chunk` runs in a background thread while the next chunk is simulated (pyarrow and
    polars release the GIL while they encode), so chunks must be handed over in order.
    """

    def __init__(
        self, landing_dir: Path, truth_dir: Path, file_format: str, labels: tuple[str, ...]
    ) -> None:
        self.truth_dir = truth_dir
        self.landing = MonthFileWriter(landing_dir, file_format, labels)
        self._identity = pq.ParquetWriter(
            truth_dir / "identity_truth.parquet", IDENTITY_SCHEMA, compression="zstd"
        )
        self._persons: pq.ParquetWriter | None = None
        self._bad: list[pl.DataFrame] = []

    def write_chunk(self, frames: dict[str, pl.DataFrame], persons: pl.DataFrame) -> None:
        for table in COLUMNS:
            if table in frames:
                self._bad.append(self.landing.write(table, frames[table]))
        self._identity.write_table(identity_truth(frames).to_arrow().cast(IDENTITY_SCHEMA))
        persons_arrow = persons.to_arrow()
        if self._persons is None:
            self._persons = pq.ParquetWriter(
                self.truth_dir / "persons.parquet", persons_arrow.schema, compression="zstd"
            )
        self._persons.write_table(persons_arrow.cast(self._persons.schema))

    def write_table(self, table: str, frame: pl.DataFrame) -> None:
        self._bad.append(self.landing.write(table, frame))

    def close(self) -> pl.DataFrame:
        """Close every file; returns the log of deliberately bad rows (also written)."""
        self.landing.close()
        self._identity.close()
        if self._persons is not None:
            self._persons.close()
        bad = pl.concat(self._bad) if self._bad else pl.DataFrame(schema=BAD_ROW_SCHEMA)
        bad.write_parquet(self.truth_dir / "bad_rows.parquet", compression="zstd")
        return bad
