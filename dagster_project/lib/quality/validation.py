"""Run expectation suites against the build database with GX's SQL datasource, and say why.

Everything here is plain Python over a DuckDB file (no Dagster): `validate_suites` opens the
file read-only through the adapter in `gx_duckdb`, validates every suite of a stage in one
ephemeral GX context, releases the file, optionally writes GX Data Docs, and returns one
`SuiteOutcome` per suite. Importing this module imports Great Expectations (~14 s).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

from dagster_project.lib.quality import gx_duckdb
from dagster_project.lib.quality.gx_duckdb import gx  # imported there, analytics off first
from dagster_project.lib.quality.row_count_expectation import EXPECTATION_TYPE as ROW_COUNT_SQL
from dagster_project.lib.quality.suites import SuiteError, SuiteSpec, is_table_level
from dagster_project.lib.quality.thresholds import QualityThresholds, expectation_parameters

RESULT_FORMAT = "BASIC"  # unexpected counts and a few example values, no extra group-bys
ROW_COUNT = "expect_table_row_count_to_be_between"
HISTORY_TABLE = "quality.row_count_history"


@dataclass(frozen=True)
class ExpectationOutcome:
    expectation: str
    column: str | None
    severity: str
    success: bool
    offending_rows: int | None
    observed: str
    error: str | None = None

    def describe(self) -> str:
        target = f"({self.column})" if self.column else ""
        if self.error:
            what = f"error: {self.error}"
        elif self.offending_rows is not None:
            what = f"{self.offending_rows:,} offending row{'s' if self.offending_rows != 1 else ''}"
        else:
            what = f"observed {self.observed}"
        return f"{self.expectation}{target}: {what}"


@dataclass(frozen=True)
class SuiteOutcome:
    suite: SuiteSpec
    results: tuple[ExpectationOutcome, ...]
    row_count: int | None
    seconds: float
    # set when the row-level expectations saw only the latest load's rows
    loaded_at: datetime | None = None
    rows_validated: int | None = None

    def failed(self, severity: str) -> list[ExpectationOutcome]:
        return [r for r in self.results if not r.success and r.severity == severity]

    @property
    def severity(self) -> str | None:
        """The worst failed severity that gates anything: critical, warning or None (passed)."""
        for level in ("critical", "warning"):
            if self.failed(level):
                return level
        return None

    @property
    def offending_rows(self) -> int:
        return sum(r.offending_rows or 0 for r in self.results if not r.success)

    def summary(self) -> str:
        failed = self.failed("critical") or self.failed("warning")
        if not failed:
            return f"{len(self.results)} expectations met"
        more = f" (+{len(failed) - 2} more)" if len(failed) > 2 else ""
        return "; ".join(r.describe() for r in failed[:2]) + more


def _short(value: Any, limit: int = 80) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _exception_message(info: Mapping[str, Any]) -> str | None:
    """GX reports an exception at the top level, or per metric that failed to resolve."""
    if info.get("raised_exception"):
        return str(info.get("exception_message") or "exception")
    for value in info.values():
        if isinstance(value, Mapping) and value.get("raised_exception"):
            return str(value.get("exception_message") or "exception")
    return None


def _expectation_outcome(result: Any) -> ExpectationOutcome:
    config = result.expectation_config
    details = result.result or {}
    error = _exception_message(result.exception_info or {})
    offending = details.get("unexpected_count")
    if config.type in (ROW_COUNT_SQL, "unexpected_rows_expectation"):
        offending = details.get("observed_value")
    observed = details.get("observed_value")
    if observed is None and details.get("partial_unexpected_list"):
        observed = details["partial_unexpected_list"][:5]
    severity = getattr(config, "severity", "critical")
    return ExpectationOutcome(
        expectation=config.type,
        column=config.kwargs.get("column"),
        severity=str(getattr(severity, "value", severity)),
        success=bool(result.success) and error is None,
        offending_rows=int(offending) if offending is not None else None,
        observed=_short(observed),
        error=_short(error, 200) if error else None,
    )


def latest_loads(build_db: Path, suites: Sequence[SuiteSpec]) -> dict[str, datetime]:
    """The latest load's timestamp of every suite with a `loaded_at_column` (none when empty)."""
    queries = {s.name: q for s in suites if (q := s.latest_load_query()) is not None}
    if not queries:
        return {}
    with duckdb.connect(str(build_db), read_only=True) as con:
        found = {name: con.execute(query).fetchall()[0][0] for name, query in queries.items()}
    return {name: stamp for name, stamp in found.items() if stamp is not None}


def _batches(
    spec: SuiteSpec, month: date | None, values: Mapping[str, float], loaded_at: datetime | None
) -> list[tuple[str, str, list[int]]]:
    """(batch name, query, indexes of the suite's expectations) to validate, in order.

    With `loaded_at`, the table-level expectations see the whole table and the rest only the
    rows of that load; otherwise the whole suite sees one batch.
    """
    everything = list(range(len(spec.expectations)))
    if loaded_at is None:
        return [(spec.name, spec.batch_query(month, values), everything)]
    whole = [i for i in everything if is_table_level(spec.expectations[i])]
    rows = [i for i in everything if i not in whole]
    return [
        (name, query, indexes)
        for name, query, indexes in (
            (spec.name, spec.batch_query(month, values), whole),
            (f"{spec.name}.latest_load", spec.batch_query(month, loaded_at=loaded_at), rows),
        )
        if indexes
    ]


def validate_suites(
    build_db: Path,
    suites: Sequence[SuiteSpec],
    *,
    thresholds: QualityThresholds,
    month: date | None = None,
    previous_rows: Mapping[str, int] | None = None,
    docs_dir: Path | None = None,
    now: datetime | None = None,
    memory_limit: str | None = None,
) -> list[SuiteOutcome]:
    """Validate `suites` in one GX context over `build_db` (read-only, released on return).

    A suite with a `loaded_at_column` is validated as two batches (see `_batches`) unless
    `thresholds.row_checks` is "all"; its outcome lists the results in the file's order.
    """
    now = now or datetime.now()
    previous_rows = previous_rows or {}
    loads = latest_loads(build_db, suites) if thresholds.row_checks == "latest_load" else {}
    context = gx_duckdb.ephemeral_context(docs_dir)
    outcomes: list[SuiteOutcome] = []
    with gx_duckdb.duckdb_datasource(context, build_db, memory_limit=memory_limit) as datasource:
        for spec in suites:
            started = time.perf_counter()
            params = expectation_parameters(
                thresholds, month=month, now=now, previous_rows=previous_rows.get(spec.name)
            )
            by_index: dict[int, Any] = {}
            rows_validated: int | None = None
            loaded_at = loads.get(spec.name)
            for name, query, indexes in _batches(spec, month, thresholds.query_values(), loaded_at):
                batch = datasource.add_query_asset(name=name, query=query)
                suite = context.suites.add(
                    gx.ExpectationSuite(
                        **spec.gx_suite_dict(
                            month, expectations=[spec.expectations[i] for i in indexes], name=name
                        )
                    )
                )
                if len(suite.expectations) != len(indexes):
                    # GX logs and skips an invalid expectation; the gate must not check less.
                    raise SuiteError(f"{spec.path.name}: an expectation is not valid for GX")
                definition = context.validation_definitions.add(
                    gx.ValidationDefinition(
                        name=name,
                        data=batch.add_batch_definition_whole_table("batch"),
                        suite=suite,
                    )
                )
                result = definition.run(expectation_parameters=params, result_format=RESULT_FORMAT)
                by_index.update(zip(indexes, result.results, strict=True))
                if loaded_at is not None and name != spec.name:
                    rows_validated = _element_count(result.results)
            gx_results = [by_index[i] for i in sorted(by_index)]
            row_count = next(
                (
                    int(r.result["observed_value"])
                    for r in gx_results
                    if r.expectation_config.type == ROW_COUNT
                    and (r.result or {}).get("observed_value") is not None
                ),
                None,
            )
            outcomes.append(
                SuiteOutcome(
                    spec,
                    tuple(_expectation_outcome(r) for r in gx_results),
                    row_count,
                    round(time.perf_counter() - started, 3),
                    loaded_at=loaded_at,
                    rows_validated=rows_validated,
                )
            )
    if docs_dir is not None:
        # Only this validation's pages: an ephemeral context knows no earlier results.
        shutil.rmtree(docs_dir, ignore_errors=True)
        docs_dir.mkdir(parents=True, exist_ok=True)
        context.build_data_docs()
    return outcomes


def _element_count(results: Sequence[Any]) -> int | None:
    """The rows a batch held, as the column expectations counted them."""
    for result in results:
        count = (result.result or {}).get("element_count")
        if count is not None:
            return int(count)
    return None


def data_docs_index(docs_dir: Path) -> Path:
    return docs_dir / "index.html"


# -- volume history: validated row counts per suite, kept in the build database --------------


def _ensure_history(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists quality")
    con.execute(
        f"create table if not exists {HISTORY_TABLE} "
        "(suite varchar, row_count bigint, validated_at timestamp, run_id varchar)"
    )


def previous_row_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """The row count of every suite's latest validated load (empty on a new warehouse)."""
    _ensure_history(con)
    rows = con.execute(
        f"select suite, arg_max(row_count, validated_at) from {HISTORY_TABLE} group by suite"
    ).fetchall()
    return {suite: int(count) for suite, count in rows}


def record_row_counts(
    con: duckdb.DuckDBPyConnection,
    outcomes: Sequence[SuiteOutcome],
    *,
    run_id: str,
    now: datetime,
    keep: int = 100,
) -> int:
    """Remember the row counts of the volume-tracked suites, when the whole stage passed.

    A load that the gate stopped is never the baseline of the next comparison.
    """
    _ensure_history(con)
    if any(o.severity == "critical" for o in outcomes):
        return 0
    rows = [
        (o.suite.name, o.row_count, now, run_id)
        for o in outcomes
        if o.suite.volume_history and o.row_count is not None
    ]
    if rows:
        con.executemany(f"insert into {HISTORY_TABLE} values (?, ?, ?, ?)", rows)
        con.execute(
            f"delete from {HISTORY_TABLE} where (suite, validated_at) in ("
            f"select suite, validated_at from (select suite, validated_at, row_number() over "
            f"(partition by suite order by validated_at desc) as n from {HISTORY_TABLE}) "
            f"where n > {int(keep)})"
        )
    return len(rows)
