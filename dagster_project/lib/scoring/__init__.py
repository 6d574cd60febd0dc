"""Value scores and segments: pure functions over DuckDB relations and polars frames."""
