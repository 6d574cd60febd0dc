"""The one place where Great Expectations meets DuckDB (GX's SQL datasource via `duckdb_engine`).

GX 1.x does not know DuckDB. Two gaps matter, both closed here and nowhere else:

- GX runs a query on a pooled connection, closes it and only then fetches the rows; DuckDB
  drops the result with its connection. Like GX does for SQLite and SQL Server, the execution
  engine below keeps one persisted connection (a `StaticPool`, so it is also the *only* DuckDB
  connection GX opens) until `release()` closes it.
- GX builds regex and LIKE conditions only for dialects it knows; for others the expectation
  fails as unsupported. DuckDB speaks PostgreSQL's `~`, `!~` and `LIKE ... ESCAPE` (and
  `duckdb_engine`'s dialect derives from PostgreSQL's), so the engine identifies as PostgreSQL
  *for building expressions only*.

The database is opened read-only; `release()` must run after each validation, or the DuckDB
file stays open (and locked against writers) for the life of the process.

Importing this module imports GX (~14 s): import it lazily, inside a step, never at
definitions load time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, Literal

# Before GX is imported: no usage statistics leave the machine.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import great_expectations as gx  # noqa: E402
import sqlalchemy as sa  # noqa: E402
import sqlalchemy.dialects.postgresql as postgresql_dialect  # noqa: E402
from great_expectations.data_context import AbstractDataContext  # noqa: E402
from great_expectations.data_context.types.base import (  # noqa: E402
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)
from great_expectations.datasource.fluent import SQLDatasource  # noqa: E402
from great_expectations.execution_engine import SqlAlchemyExecutionEngine  # noqa: E402

DUCKDB_DIALECT = "duckdb"


class DuckDBExecutionEngine(SqlAlchemyExecutionEngine):
    """GX's SQL execution engine with a persisted DuckDB connection and PostgreSQL expressions."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # One DB-API connection for the engine's whole life: results survive GX's
        # "connection closed before fetch", and no second DuckDB connection is ever opened.
        kwargs.setdefault("poolclass", sa.StaticPool)
        super().__init__(*args, **kwargs)
        if self.dialect_name == DUCKDB_DIALECT:
            self.dialect_module = postgresql_dialect

    @contextmanager
    def get_connection(self) -> Iterator[sa.Connection]:
        if self.dialect_name != DUCKDB_DIALECT:
            with super().get_connection() as connection:
                yield connection
            return
        if self._connection is None or self._connection.closed:
            self._connection = self.engine.connect()
        yield self._connection

    def release(self) -> None:
        """Close the persisted connection and the pool: the DuckDB file is free afterwards."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self.engine.dispose()


class DuckDBDatasource(SQLDatasource):
    """GX's SQL datasource for a DuckDB file (`context.data_sources.add_duckdb(...)`)."""

    type: Literal["duckdb"] = "duckdb"  # type: ignore[assignment]
    execution_engine_override: ClassVar[type[SqlAlchemyExecutionEngine]] = DuckDBExecutionEngine

    def release(self) -> None:
        engine = self._execution_engine
        if isinstance(engine, DuckDBExecutionEngine):
            engine.release()
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def duckdb_url(database: Path) -> str:
    return f"duckdb:///{database}"


def ephemeral_context(docs_dir: Path | None = None) -> AbstractDataContext:
    """An in-memory GX context (nothing written but the optional Data Docs), progress bars off."""
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        progress_bars=ProgressBarsConfig(globally=False),
        analytics_enabled=False,
        data_docs_sites={},
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    if docs_dir is not None:
        context.add_data_docs_site(
            site_name="local",
            site_config={
                "class_name": "SiteBuilder",
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir),
                },
            },
        )
    return context


@contextmanager
def duckdb_datasource(
    context: AbstractDataContext,
    database: Path,
    name: str = "warehouse",
    memory_limit: str | None = None,
) -> Iterator[DuckDBDatasource]:
    """The DuckDB file as a read-only GX datasource, released (and removed) on exit.

    `memory_limit` bounds DuckDB's memory (its default is 80 % of the machine; validating a
    first load of 100M events took 8 GB without it)."""
    connect_args: dict[str, Any] = {"read_only": True}
    if memory_limit is not None:
        connect_args["config"] = {"memory_limit": memory_limit}
    datasource = context.data_sources.add_duckdb(  # type: ignore[attr-defined]
        name=name,
        connection_string=duckdb_url(database),
        kwargs={"connect_args": connect_args},
    )
    try:
        yield datasource
    finally:
        datasource.release()
        context.data_sources.delete(name)
