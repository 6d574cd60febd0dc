"""The history window as day arrays: month of each day, seasonality, shop opening, fx rates.

All activity is simulated in integer seconds since the first day of the window (00:00), so
month lookups and the final conversion to timestamps are plain array operations.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from ._reference import FX_LEVELS

DAY = 86_400

# Relative purchase intensity by calendar month (Jan..Dec) before special periods.
_MONTH_FACTOR = np.array([0.9, 0.8, 0.95, 0.95, 1.0, 1.0, 1.0, 0.9, 0.95, 1.0, 1.05, 1.0])
# Mon..Sun: weekend shopping; Sunday online only (stores are closed, see `store_open`).
_WEEKDAY_FACTOR = np.array([0.95, 0.95, 0.95, 1.0, 1.05, 1.2, 0.9])


@dataclass(frozen=True)
class Calendar:
    start: np.datetime64  # first day of the window, datetime64[D]
    n_days: int
    month_labels: tuple[str, ...]  # 'YYYY-MM' of every month in the window
    day_month: np.ndarray  # month index of every day
    season: np.ndarray  # purchase intensity of every day (mean ~1, December ~1.7)
    store_open: np.ndarray  # bool per day: no Sundays, Christmas or New Year

    @property
    def n_months(self) -> int:
        return len(self.month_labels)

    @property
    def end_seconds(self) -> int:
        return self.n_days * DAY

    def month_of(self, seconds: np.ndarray) -> np.ndarray:
        """Month index of in-window timestamps (seconds since the window start)."""
        return self.day_month[np.asarray(seconds, dtype=np.int64) // DAY]

    def to_datetime(self, seconds: np.ndarray) -> np.ndarray:
        stamps = self.start.astype("datetime64[s]") + np.asarray(seconds, dtype=np.int64)
        return stamps.astype("datetime64[us]")  # polars takes us, not s

    def to_date(self, seconds: np.ndarray) -> np.ndarray:
        return self.start + (np.asarray(seconds, dtype=np.int64) // DAY)


def default_end_month(today: dt.date) -> str:
    """The last complete calendar month before `today`."""
    first = today.replace(day=1)
    last = first - dt.timedelta(days=1)
    return f"{last.year:04d}-{last.month:02d}"


def build_calendar(end_month: str, months: int) -> Calendar:
    try:
        year, month = (int(part) for part in end_month.split("-"))
        dt.date(year, month, 1)  # validates the month
    except ValueError as exc:
        raise ValueError(f"end_month must be 'YYYY-MM', got {end_month!r}") from exc
    if months < 1:
        raise ValueError("months must be at least 1")
    start_index = year * 12 + (month - 1) - (months - 1)
    start = dt.date(start_index // 12, start_index % 12 + 1, 1)
    next_index = year * 12 + month
    stop = dt.date(next_index // 12, next_index % 12 + 1, 1)

    days = np.arange(np.datetime64(start, "D"), np.datetime64(stop, "D"))
    years = days.astype("datetime64[Y]").astype(int) + 1970
    month_no = days.astype("datetime64[M]").astype(int) % 12 + 1
    dom = (days - days.astype("datetime64[M]").astype("datetime64[D]")).astype(int) + 1
    weekday = (days.astype(int) + 3) % 7  # 1970-01-01 was a Thursday
    day_month = (years * 12 + month_no - 1) - start_index

    season = _MONTH_FACTOR[month_no - 1] * _WEEKDAY_FACTOR[weekday]
    dec = month_no == 12
    season = np.where(dec & (dom <= 22), 1.9 * _WEEKDAY_FACTOR[weekday], season)
    season = np.where(dec & (dom == 23), 1.3, season)
    season = np.where(dec & (dom == 24), 0.6, season)
    season = np.where(dec & ((dom == 25) | (dom == 26)), 0.3, season)
    # Black Friday to Cyber Monday: the day after the fourth Thursday of November, 4 days.
    for y in np.unique(years):
        nov1 = np.datetime64(dt.date(int(y), 11, 1), "D")
        wd = (nov1.astype(int) + 3) % 7
        black_friday = nov1 + ((3 - wd) % 7) + 21 + 1
        window = (days >= black_friday) & (days < black_friday + 4)
        season = np.where(window, 2.1, season)
    # Summer sale (late June to mid July) and the January sale.
    summer = ((month_no == 6) & (dom >= 20)) | ((month_no == 7) & (dom <= 20))
    season = np.where(summer, season * 1.35, season)
    season = np.where((month_no == 1) & (dom >= 2) & (dom <= 10), season * 1.25, season)

    holiday = (dec & ((dom == 25) | (dom == 26))) | ((month_no == 1) & (dom == 1))
    store_open = (weekday != 6) & ~holiday

    labels = tuple(
        f"{(start_index + i) // 12:04d}-{(start_index + i) % 12 + 1:02d}" for i in range(months)
    )
    return Calendar(
        start=np.datetime64(start, "D"),
        n_days=len(days),
        month_labels=labels,
        day_month=day_month.astype(np.int32),
        season=season.astype(np.float64),
        store_open=store_open,
    )


def simulate_fx(rng: np.random.Generator, n_days: int) -> dict[str, np.ndarray]:
    """Daily EUR-per-unit rates: a mean-reverting log random walk around realistic levels."""
    rates: dict[str, np.ndarray] = {}
    for currency, level in FX_LEVELS:
        shocks = rng.normal(0.0, 0.0035, n_days)
        log_dev = np.empty(n_days)
        dev = 0.0
        for i in range(n_days):
            dev = 0.995 * dev + shocks[i]
            log_dev[i] = dev
        rates[currency] = np.round(level * np.exp(log_dev), 6)
    return rates
