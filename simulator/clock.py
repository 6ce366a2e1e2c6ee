"""Calendar of a simulated extract (window, holidays) and the random helpers all generators share.

Dates are integer days since 1970-01-01 and times integer seconds, so every table is vectorised.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np

SECONDS_PER_DAY = 86_400
DAYS_PER_YEAR = 365.25

# Lunar new year's day; business load collapses for about two weeks around it.
SPRING_FESTIVAL = {
    2015: "2015-02-19",
    2016: "2016-02-08",
    2017: "2017-01-28",
    2018: "2018-02-16",
    2019: "2019-02-05",
    2020: "2020-01-25",
    2021: "2021-02-12",
    2022: "2022-02-01",
    2023: "2023-01-22",
    2024: "2024-02-10",
    2025: "2025-01-29",
    2026: "2026-02-17",
    2027: "2027-02-06",
    2028: "2028-01-26",
    2029: "2029-02-13",
    2030: "2030-02-03",
    2031: "2031-01-23",
    2032: "2032-02-11",
    2033: "2033-01-31",
    2034: "2034-02-19",
    2035: "2035-02-08",
}


def day_number(iso_date: str) -> int:
    """Days since the epoch of an ISO date string."""
    return int(np.datetime64(iso_date, "D").astype(np.int64))


def stream(seed: int, name: str, *keys: int) -> np.random.Generator:
    """An independent random stream per named purpose, so adding one table never shifts another."""
    return np.random.default_rng([seed, zlib.crc32(name.encode()), *keys])


def categorical(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """One draw per row of a (rows, categories) probability matrix."""
    cumulative = np.cumsum(probabilities, axis=1)
    u = rng.random(probabilities.shape[0])[:, None]
    return np.minimum((u > cumulative).sum(axis=1), probabilities.shape[1] - 1)


@dataclass(frozen=True)
class Window:
    """The calendar months of the extract, `months` of them ending with `end_month` inclusive."""

    end_month: str
    months: int

    def __post_init__(self) -> None:
        if self.months < 1:
            raise ValueError("months must be at least 1")
        np.datetime64(self.end_month, "M")  # fail early on a malformed month

    @cached_property
    def month_starts(self) -> np.ndarray:
        """First day of every month plus the first day after the window (months + 1 entries)."""
        last = np.datetime64(self.end_month, "M")
        months = np.arange(last - self.months + 1, last + 2)
        return months.astype("datetime64[D]").astype(np.int64)

    @property
    def start(self) -> int:
        return int(self.month_starts[0])

    @property
    def end(self) -> int:
        """Last day of the window (inclusive)."""
        return int(self.month_starts[-1]) - 1

    @property
    def n_days(self) -> int:
        return self.end - self.start + 1

    @property
    def years(self) -> float:
        return self.n_days / DAYS_PER_YEAR

    @cached_property
    def days(self) -> np.ndarray:
        return np.arange(self.start, self.end + 1, dtype=np.int64)

    def month_label(self, m: int) -> str:
        return str(np.datetime64(int(self.month_starts[m]), "D"))[:7]

    def month_days(self, m: int) -> np.ndarray:
        return np.arange(self.month_starts[m], self.month_starts[m + 1], dtype=np.int64)


def day_of_year(days: np.ndarray) -> np.ndarray:
    d = days.astype("datetime64[D]")
    return (d - d.astype("datetime64[Y]")).astype(np.int64)


def weekday(days: np.ndarray) -> np.ndarray:
    """Monday = 0 … Sunday = 6 (1970-01-01 was a Thursday)."""
    return (days + 3) % 7


def spring_festival_offset(days: np.ndarray) -> np.ndarray:
    """Signed days from the nearest lunar new year (early February when the year is not listed)."""
    years = days.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    offsets = np.full(days.shape, 10_000, dtype=np.int64)
    for shift in (-1, 0, 1):
        unique_years, inverse = np.unique(years + shift, return_inverse=True)
        festival = np.array(
            [day_number(SPRING_FESTIVAL.get(int(y), f"{int(y)}-02-05")) for y in unique_years]
        )
        off = days - festival[inverse].reshape(days.shape)
        offsets = np.where(np.abs(off) < np.abs(offsets), off, offsets)
    return offsets


def national_day_week(days: np.ndarray) -> np.ndarray:
    """True on 1-7 October, the golden week."""
    doy_month = days.astype("datetime64[D]").astype("datetime64[M]")
    month = doy_month.astype(np.int64) % 12
    dom = (days.astype("datetime64[D]") - doy_month.astype("datetime64[D]")).astype(np.int64)
    return (month == 9) & (dom < 7)
