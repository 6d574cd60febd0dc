"""The gate's thresholds (`dagster_project/config/quality.yaml`) and the GX parameters from them."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import yaml

from dagster_project.lib.months import month_end

ROW_CHECKS = ("latest_load", "all")
DEFAULT_THRESHOLDS_FILE = Path(__file__).resolve().parents[2] / "config" / "quality.yaml"


@dataclass(frozen=True)
class QualityThresholds:
    max_quarantined_share: float = 0.05
    min_quarantined_rows: int = 5
    volume_error_drop_share: float = 0.5
    volume_warn_drop_share: float = 0.1
    freshness_warn_after_days: int = 31
    freshness_error_after_days: int = 92
    # row-level expectations of suites with a loaded_at_column: "latest_load" or "all" rows
    row_checks: str = "latest_load"

    def __post_init__(self) -> None:
        if self.row_checks not in ROW_CHECKS:
            raise ValueError(f"quality setting row_checks must be one of {ROW_CHECKS}")
        for name in ("max_quarantined_share", "volume_error_drop_share", "volume_warn_drop_share"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"quality threshold {name} must be a share between 0 and 1")
        if self.min_quarantined_rows < 1:
            raise ValueError("quality threshold min_quarantined_rows must be at least 1")
        if self.freshness_warn_after_days > self.freshness_error_after_days:
            raise ValueError("freshness: warn_after_days must not exceed error_after_days")

    def query_values(self) -> dict[str, float]:
        """Thresholds that suites' batch queries use as `{name}`."""
        return {"min_quarantined_rows": self.min_quarantined_rows}


def load_thresholds(path: Path | None = None) -> QualityThresholds:
    path = path or Path(os.environ.get("SEGMENTWERK_QUALITY") or DEFAULT_THRESHOLDS_FILE)
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    landing, volume, freshness, scope = (
        raw.get(k) or {} for k in ("landing", "volume", "freshness", "scope")
    )
    defaults = QualityThresholds()
    return QualityThresholds(
        max_quarantined_share=float(
            landing.get("max_quarantined_share", defaults.max_quarantined_share)
        ),
        min_quarantined_rows=int(
            landing.get("min_quarantined_rows", defaults.min_quarantined_rows)
        ),
        volume_error_drop_share=float(
            volume.get("error_drop_share", defaults.volume_error_drop_share)
        ),
        volume_warn_drop_share=float(
            volume.get("warn_drop_share", defaults.volume_warn_drop_share)
        ),
        freshness_warn_after_days=int(
            freshness.get("warn_after_days", defaults.freshness_warn_after_days)
        ),
        freshness_error_after_days=int(
            freshness.get("error_after_days", defaults.freshness_error_after_days)
        ),
        row_checks=str(scope.get("row_checks", defaults.row_checks)),
    )


def volume_minimums(previous_rows: int | None, thresholds: QualityThresholds) -> tuple[int, int]:
    """(ERROR minimum, WARN minimum) of a table's rows, given the previous validated load."""
    if not previous_rows:
        return 0, 0
    return (
        math.ceil(previous_rows * (1 - thresholds.volume_error_drop_share)),
        math.ceil(previous_rows * (1 - thresholds.volume_warn_drop_share)),
    )


def expectation_parameters(
    thresholds: QualityThresholds,
    *,
    month: date | None,
    now: datetime,
    previous_rows: int | None = None,
) -> dict[str, Any]:
    """The values of every `{"$PARAMETER": ...}` the suites may use."""
    error_min, warn_min = volume_minimums(previous_rows, thresholds)
    params: dict[str, Any] = {
        "max_quarantined_share": thresholds.max_quarantined_share,
        # staging quarantines timestamps more than a day ahead of the load; allow for the clock
        "latest_plausible_timestamp": now + timedelta(days=2),
        "earliest_plausible_timestamp": datetime(1900, 1, 1),
        "earliest_plausible_date": date(1900, 1, 1),
        "today": now.date(),
        "volume_error_min_rows": error_min,
        "volume_warn_min_rows": warn_min,
    }
    if month is not None:
        as_of = datetime.combine(month_end(month), time.min)
        params["freshness_warn_after"] = as_of - timedelta(
            days=thresholds.freshness_warn_after_days
        )
        params["freshness_error_after"] = as_of - timedelta(
            days=thresholds.freshness_error_after_days
        )
    return params
