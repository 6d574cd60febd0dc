"""The Dagster resource every writing step uses: settings, the writer lock, connections."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl

from dagster_project.lib.build_lock import build_writer_lock
from dagster_project.lib.settings import Settings, load_settings

# Every asset that writes the build database runs in this pool (limit 1 in the instance
# configuration that `make dev` uses); the file lock below covers writers outside Dagster.
BUILD_DB_POOL = "segmentwerk_build_db"


class WarehouseResource(dg.ConfigurableResource):
    """Where the warehouse lives. Empty fields fall back to the contract's environment variables."""

    landing_dir: str | None = None
    duckdb_path: str | None = None
    reporting_currency: str | None = None

    @property
    def settings(self) -> Settings:
        base = load_settings()
        return Settings(
            landing_dir=Path(self.landing_dir).resolve() if self.landing_dir else base.landing_dir,
            duckdb_path=Path(self.duckdb_path).resolve() if self.duckdb_path else base.duckdb_path,
            reporting_currency=(self.reporting_currency or base.reporting_currency).upper(),
            memory_limit=base.memory_limit,
        )

    @contextmanager
    def writer(self, log: dg.DagsterLogManager | None = None) -> Iterator[Settings]:
        """Hold the single-writer lock of the build database for the duration of a step."""
        settings = self.settings
        settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
        with build_writer_lock(
            settings.build_lock_path, on_wait=log.info if log is not None else None
        ):
            yield settings

    @contextmanager
    def build_connection(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        settings = self.settings
        con = duckdb.connect(str(settings.build_db_path), read_only=read_only)
        try:
            # SET, not a connect() config: another connection of this process to the same file
            # with a different config would be refused.
            con.execute(f"set memory_limit = '{settings.memory_limit}'")
            yield con
        finally:
            con.close()


def replace_snapshot(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pl.DataFrame,
    snapshot_month: date,
    *,
    month_column: str = "snapshot_month",
) -> int:
    """Make `frame` the rows of `snapshot_month` in `table`, in one transaction.

    Re-running a month replaces exactly that month's rows and leaves every other month as it
    was, which makes monthly runs idempotent.
    """
    if month_column not in frame.columns or frame[month_column].n_unique() > 1:
        raise ValueError(f"{table}: a snapshot frame holds exactly one {month_column}")
    schema = table.split(".")[0]
    con.execute("begin transaction")
    try:
        con.execute(f"create schema if not exists {schema}")
        con.register("_snapshot_frame", frame)
        con.execute(f"create table if not exists {table} as select * from _snapshot_frame limit 0")
        con.execute(f"delete from {table} where {month_column} = ?", [snapshot_month])
        con.execute(f"insert into {table} by name select * from _snapshot_frame")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    finally:
        con.unregister("_snapshot_frame")
    return frame.height
