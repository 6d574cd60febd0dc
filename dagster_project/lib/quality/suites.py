"""Expectation suites as plain JSON files under `expectations/`: loading and what they target.

A suite file is GX's own suite format (`name`, `expectations` with `type`, `kwargs`,
`severity`, `meta`) plus one block `meta.segmentwerk` saying where and when it runs:

- `stage`: the step of the pipeline that validates it (`unification` once per dbt build, the
  monthly stages per snapshot month: `scoring`, `segmentation`, `migration`, `profiles`);
- `asset`: the Dagster asset the check belongs to (`staging/stg_shop__orders`);
- `table` or `query`: what is validated in the build database; monthly suites name the
  `month_column` and see only the current snapshot month (a `query` may use `{month}` and
  `{next_month}`, so can custom SQL expectations);
- `volume_history` (optional): the row count is compared with the previous validated load.
- `loaded_at_column` (optional, table suites of the unification stage): the column holding
  when a row was loaded (`loaded_at` of the incrementally built staging tables). Table-level
  expectations (`expect_table_*`: columns, row count) still see the whole table; the row-level
  ones see only the rows of the latest load, unless `quality.yaml` says `row_checks: all`.
  At 1M customers this is the difference between reading 100M events every month and 8M.

Reading them needs no Great Expectations import, so the Dagster definitions load fast.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from dagster_project.lib.months import add_months
from dagster_project.lib.settings import PROJECT_ROOT

EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"

# stage -> whether it runs per snapshot month (partitioned) or once per dbt build
STAGES: dict[str, bool] = {
    "unification": False,
    "scoring": True,
    "segmentation": True,
    "migration": True,
    "profiles": True,
}
SEVERITIES = ("critical", "warning", "info")
TABLE_LEVEL_PREFIX = "expect_table_"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def is_table_level(expectation: Mapping[str, Any]) -> bool:
    """Whether an expectation is about the table as a whole (its columns, its row count)."""
    return str(expectation["type"]).startswith(TABLE_LEVEL_PREFIX)


class SuiteError(ValueError):
    """A suite file that cannot be used: the gate must not silently check less."""


@dataclass(frozen=True)
class SuiteSpec:
    """One suite file: its GX content and where it runs."""

    name: str
    path: Path
    stage: str
    asset: tuple[str, ...]
    table: str | None
    query: str | None
    month_column: str | None
    volume_history: bool
    expectations: tuple[dict[str, Any], ...] = field(repr=False)
    description: str = ""
    loaded_at_column: str | None = None

    @property
    def check_name(self) -> str:
        """The Dagster check name: `gx_` + the file's stem (`gx_shop_orders`)."""
        return f"gx_{self.path.stem}"

    @property
    def monthly(self) -> bool:
        return STAGES[self.stage]

    def latest_load_query(self) -> str | None:
        """The SELECT of the latest load's timestamp (None: the suite sees whole tables)."""
        if self.loaded_at_column is None:
            return None
        return f"select max({self.loaded_at_column}) from {self.table}"

    def batch_query(
        self,
        month: date | None,
        values: Mapping[str, float] | None = None,
        *,
        loaded_at: datetime | None = None,
    ) -> str:
        """The SELECT that GX validates (the current snapshot month only, for monthly suites;
        the rows loaded at `loaded_at` only, when given).

        `values` fills numeric thresholds named `{name}` in a suite's query (GX parameters
        only reach expectation arguments, not the batch query)."""
        if loaded_at is not None:
            if self.loaded_at_column is None:
                raise SuiteError(f"{self.path.name}: has no loaded_at_column")
            # A literal, not a subquery: DuckDB then skips every row group of earlier loads.
            stamp = loaded_at.isoformat(sep=" ")
            return f"select * from {self.table} where {self.loaded_at_column} = '{stamp}'"
        if self.query is not None:
            sql = self.query
            for name, value in (values or {}).items():
                sql = sql.replace("{" + name + "}", repr(float(value)))
        else:
            sql = f"select * from {self.table}"
            if self.month_column is not None:
                sql += f" where {self.month_column} = '{{month}}'"
        return self._fill(sql, month)

    def _fill(self, text: str, month: date | None) -> str:
        """Replace `{month}` and `{next_month}`; GX's own `{batch}` stays."""
        if "{month}" not in text and "{next_month}" not in text:
            return text
        if month is None:
            raise SuiteError(f"{self.path.name}: needs a snapshot month")
        next_month = add_months(month, 1).isoformat()
        return text.replace("{month}", month.isoformat()).replace("{next_month}", next_month)

    def gx_suite_dict(
        self,
        month: date | None = None,
        *,
        expectations: Sequence[Mapping[str, Any]] | None = None,
        name: str | None = None,
    ) -> dict[str, Any]:
        """The suite for GX, with the snapshot month filled into custom SQL expectations
        (`expectations`/`name`: a part of the suite, validated on its own batch)."""
        chosen = self.expectations if expectations is None else expectations
        expectations = []
        for expectation in chosen:
            kwargs = {
                key: self._fill(value, month) if isinstance(value, str) else value
                for key, value in expectation["kwargs"].items()
            }
            expectations.append({**expectation, "kwargs": kwargs})
        return {
            "name": name or self.name,
            "expectations": expectations,
            "meta": {"notes": self.description} if self.description else {},
        }


def _suite_from_file(path: Path) -> SuiteSpec:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise SuiteError(f"{path.name}: not valid JSON ({error})") from error
    where = (raw.get("meta") or {}).get("segmentwerk") or {}
    stage = where.get("stage")
    if stage not in STAGES:
        raise SuiteError(f"{path.name}: meta.segmentwerk.stage must be one of {sorted(STAGES)}")
    if not _NAME.match(path.stem):
        raise SuiteError(f"{path.name}: file names are lower-case identifiers")
    if (where.get("table") is None) == (where.get("query") is None):
        raise SuiteError(f"{path.name}: give exactly one of meta.segmentwerk.table / query")
    if STAGES[stage] and where.get("table") and not where.get("month_column"):
        raise SuiteError(f"{path.name}: a monthly table suite needs meta.segmentwerk.month_column")
    loaded_at_column = where.get("loaded_at_column")
    if loaded_at_column is not None and (
        STAGES[stage] or where.get("table") is None or not _NAME.match(str(loaded_at_column))
    ):
        raise SuiteError(
            f"{path.name}: loaded_at_column is a column name, for table suites of a stage "
            "that runs once per build"
        )
    expectations = raw.get("expectations") or []
    if not expectations:
        raise SuiteError(f"{path.name}: no expectations")
    for expectation in expectations:
        if not isinstance(expectation.get("type"), str) or "kwargs" not in expectation:
            raise SuiteError(f"{path.name}: every expectation needs `type` and `kwargs`")
        if expectation.get("severity", "critical") not in SEVERITIES:
            raise SuiteError(f"{path.name}: severity must be one of {SEVERITIES}")
    return SuiteSpec(
        name=raw.get("name") or path.stem,
        path=path,
        stage=stage,
        asset=tuple(str(where.get("asset", "")).split("/")),
        table=where.get("table"),
        query=where.get("query"),
        month_column=where.get("month_column"),
        volume_history=bool(where.get("volume_history", False)),
        expectations=tuple(expectations),
        description=str(where.get("description", "")),
        loaded_at_column=loaded_at_column,
    )


def load_suites(directory: Path = EXPECTATIONS_DIR) -> list[SuiteSpec]:
    """Every suite under `directory` (recursively), sorted by path; names are unique."""
    suites = [_suite_from_file(p) for p in sorted(directory.rglob("*.json"))]
    seen: dict[str, Path] = {}
    for suite in suites:
        for key in (suite.name, suite.check_name):
            if key in seen and seen[key] != suite.path:
                raise SuiteError(f"{suite.path.name}: {key} is used by {seen[key].name} too")
            seen[key] = suite.path
    return suites


def suites_by_stage(directory: Path = EXPECTATIONS_DIR) -> dict[str, list[SuiteSpec]]:
    grouped: dict[str, list[SuiteSpec]] = {stage: [] for stage in STAGES}
    for suite in load_suites(directory):
        grouped[suite.stage].append(suite)
    return grouped
