"""`unexpected_row_count_expectation`: GX's custom-SQL expectation, counting only.

GX's `unexpected_rows_expectation` resolves two metrics, the count of the query's rows and the
rows themselves, and DuckDB runs the query once for each; the rows are only reported with the
COMPLETE result format, and the gate uses BASIC. A referential check runs over the whole table
(every customer_id of fct_orders in dim_customers), so the second run doubled its cost: at a
million customers 1.2-1.3 s each for fct_orders and customer_identity_map, 0.8 s for the order
lines. This expectation takes the same `unexpected_rows_query` and resolves the count only.

Defining the class registers it with GX under its snake-case name; `validation` imports this
module before any suite is built. Importing it imports GX (~14 s): import it lazily.
"""

from __future__ import annotations

from typing import Any, ClassVar

from great_expectations.expectations.core.unexpected_rows_expectation import (
    UnexpectedRowsExpectation,
)

ROW_COUNT_METRIC = "unexpected_rows_query.row_count"


class UnexpectedRowCountExpectation(UnexpectedRowsExpectation):
    """No row matches `unexpected_rows_query` (a SELECT over `{batch}`); reports how many do."""

    metric_dependencies: ClassVar[tuple[str, ...]] = (ROW_COUNT_METRIC,)

    def _validate(
        self,
        metrics: dict,
        runtime_configuration: dict | None = None,
        execution_engine: Any = None,
    ) -> dict[str, Any]:
        count = metrics[ROW_COUNT_METRIC]
        return {"success": count == 0, "result": {"observed_value": count}}


EXPECTATION_TYPE = "unexpected_row_count_expectation"
