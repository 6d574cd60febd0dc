"""The data-quality gate: Great Expectations suites (`expectations/*.json`) run in the warehouse.

`suites` and `thresholds` are plain Python (cheap to import at definitions load time);
`validation` and `gx_duckdb` import Great Expectations and are imported lazily inside steps.
"""
