"""Snapshot months: parsing, ranges and the partition calendar."""

from __future__ import annotations

import os
from datetime import date, timedelta

# Real customer histories are long; the calendar starts early enough for them and can be moved
# further back without a code change.
DEFAULT_FIRST_MONTH = "1990-01"


def parse_month(text: str) -> date:
    """'YYYY-MM' (or 'YYYY-MM-DD') → the first day of that month."""
    try:
        year, month = (int(part) for part in text.strip().split("-")[:2])
        return date(year, month, 1)
    except (ValueError, TypeError):
        raise ValueError(f"not a month: {text!r} (expected YYYY-MM)") from None


def first_month() -> date:
    return parse_month(os.environ.get("SEGMENTWERK_FIRST_MONTH", DEFAULT_FIRST_MONTH))


def last_complete_month(today: date | None = None) -> date:
    today = today or date.today()
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


def add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def month_range(start: date, end: date) -> list[date]:
    if end < start:
        raise ValueError(f"--from {start:%Y-%m} is after --to {end:%Y-%m}")
    months, current = [], start
    while current <= end:
        months.append(current)
        current = add_months(current, 1)
    return months


def month_end(month: date) -> date:
    """The as-of day of a snapshot month: its last day."""
    return add_months(month, 1) - timedelta(days=1)


def partition_key(month: date) -> str:
    return f"{month:%Y-%m-%d}"
