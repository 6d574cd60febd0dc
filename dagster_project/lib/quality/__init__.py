"""The data-quality gate: Great Expectations suites (`expectations/*.json`) run in the warehouse.

`suites` and `thresholds` are plain Python (cheap to import at definitions load time);
`validation` and `gx_duckdb` import Great Expectations and are imported lazily inside steps.
"""

from __future__ import annotations

import contextlib
import importlib
import threading

VALIDATION_MODULE = "dagster_project.lib.quality.validation"


def import_validation_in_background() -> threading.Thread:
    """Start importing the validation module (Great Expectations, 5-14 s) in a daemon thread.

    The dbt step calls this before dbt starts: dbt works in its own process for minutes, this
    one only waits for its events, and the quality gate that follows then finds GX imported.
    Python's per-module import lock makes the gate's own import wait for this one rather than
    run twice. A failed import here is left for the gate's import to raise again, in the step
    where it belongs.
    """

    def _import() -> None:
        with contextlib.suppress(Exception):  # the gate's own import reports it
            importlib.import_module(VALIDATION_MODULE)

    thread = threading.Thread(target=_import, name="import-great-expectations", daemon=True)
    thread.start()
    return thread
