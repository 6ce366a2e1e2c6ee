"""Daily meter reads, one month at a time as a customers × days matrix, and the monthly totals.

Level, seasonality, weekly and holiday patterns, growth, theft, outages and read gaps apply.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from powerseg.contract import CUSTOMER_TYPES, READ_QUALITIES

from .clock import (
    DAYS_PER_YEAR,
    SECONDS_PER_DAY,
    Window,
    day_of_year,
    national_day_week,
    spring_festival_offset,
    stream,
    weekday,
)
from .customers import AGR, COM, IND, PUB, RES, Customers
from .grid import Exposure, Outages

ACTUAL, ESTIMATED, MISSING = (READ_QUALITIES.index(q) for q in ("actual", "estimated", "missing"))
MEAN_MISSING_SHARE = 0.0075
MEAN_ESTIMATED_SHARE = 0.015
# Customers per generation block: bounds memory to a block × month of matrices at any scale.
BLOCK_CUSTOMERS = 20_000
# A thief restores the meter on some days (inspections rumoured, bypass removed).
BYPASS_OFF_SHARE = 0.1

# Load factor on the lunar new year holiday and the October golden week, per customer type.
_FESTIVAL_FACTOR = {RES: 0.92, IND: 0.35, COM: 0.65, AGR: 0.9, PUB: 0.55}
_GOLDEN_WEEK_FACTOR = {RES: 1.0, IND: 0.75, COM: 1.05, AGR: 1.0, PUB: 0.6}


@dataclass
class MonthReads:
    customer: np.ndarray  # row index into customers
    day: np.ndarray
    kwh: np.ndarray
    max_demand_kw: np.ndarray
    quality: np.ndarray


def _holiday_factors(days: np.ndarray) -> np.ndarray:
    """(types, days) multiplier for the lunar new year (with ramps) and golden week."""
    offset = spring_festival_offset(days)
    golden = national_day_week(days)
    out = np.ones((len(CUSTOMER_TYPES), days.size))
    for t, f in _FESTIVAL_FACTOR.items():
        out[t] = np.select(
            [
                (offset >= -2) & (offset <= 6),
                (offset >= -7) & (offset < -2),
                (offset > 6) & (offset <= 15),
            ],
            [f, 1 - 0.3 * (1 - f), 1 - 0.5 * (1 - f)],
            1.0,
        )
        out[t] = np.where(golden, out[t] * _GOLDEN_WEEK_FACTOR[t], out[t])
    return out


class ReadGenerator:
    """Generates the reads of one window month at a time; memory is one month of matrices."""

    def __init__(
        self,
        seed: int,
        c: Customers,
        window: Window,
        caught_day: np.ndarray,
        outages: Outages,
        exposure: Exposure,
    ):
        self.seed, self.c, self.window, self.caught_day = seed, c, window, caught_day
        days = window.days
        doy = day_of_year(days)
        self.summer = np.exp(-(((doy - 200) / 40.0) ** 2))
        self.irrigation = np.exp(-(((doy - 170) / 55.0) ** 2))
        dist = np.abs(doy - 15)
        self.winter = np.exp(-((np.minimum(dist, 365 - dist) / 35.0) ** 2))
        self.weekend = weekday(days) >= 5
        self.holiday = _holiday_factors(days)
        self.years_in = (days - window.start) / DAYS_PER_YEAR
        rng = stream(seed, "read-quality")
        # Some meters talk to the head-end worse than others: read gaps cluster by customer.
        self.p_missing = MEAN_MISSING_SHARE * rng.gamma(0.7, 1 / 0.7, c.n).clip(0, 8)
        self.p_estimated = MEAN_ESTIMATED_SHARE * rng.gamma(0.7, 1 / 0.7, c.n).clip(0, 8)
        self.active_start = c.active_start(window)
        out_day = outages.start[exposure.outage] // SECONDS_PER_DAY
        self.outage_day = out_day
        self.outage_customer = exposure.customer
        self.outage_share = np.minimum(outages.duration_hours[exposure.outage] / 24.0, 1.0)

    def month(self, m: int) -> tuple[MonthReads, np.ndarray, np.ndarray]:
        """Reads of month m, plus per customer the metered kWh and the days supplied."""
        days = self.window.month_days(m)
        blocks = [
            self._block(m, b, lo, min(lo + BLOCK_CUSTOMERS, self.c.n), days)
            for b, lo in enumerate(range(0, self.c.n, BLOCK_CUSTOMERS))
        ]
        reads = MonthReads(
            *(
                np.concatenate([getattr(r, f) for r, _, _ in blocks])
                for f in ("customer", "day", "kwh", "max_demand_kw", "quality")
            )
        )
        metered = np.concatenate([k for _, k, _ in blocks])
        billable_days = np.concatenate([d for _, _, d in blocks])
        return reads, metered, billable_days

    def _block(self, m: int, b: int, lo: int, hi: int, days: np.ndarray):
        """Customers lo..hi-1 over the month's days, as (customers, days) matrices."""
        c, rng = self.c, stream(self.seed, "reads", m, b)
        sl = slice(lo, hi)
        j = days - self.window.start
        n, d = hi - lo, days.size
        col = days[None, :]
        supplied = (col >= self.active_start[sl, None]) & (col <= c.end_day[sl, None])

        season_shape = np.where(
            (c.ctype[sl] == AGR)[:, None], self.irrigation[j][None, :], self.summer[j][None, :]
        )
        expected = c.base_kwh[sl, None] * (
            1 + c.summer_amp[sl, None] * season_shape + c.winter_amp[sl, None] * self.winter[j]
        )
        expected *= np.where(self.weekend[j][None, :], c.weekend_factor[sl, None], 1.0)
        expected *= self.holiday[c.ctype[sl, None], j[None, :]]
        expected *= (1 + c.growth[sl, None]) ** self.years_in[j][None, :]

        stealing = (col >= c.theft_start_day[sl, None]) & (col < self.caught_day[sl, None])
        thief_rows = np.flatnonzero(stealing.any(axis=1))
        theft_factor = np.ones((n, d))
        if thief_rows.size:
            drop = c.theft_drop[lo + thief_rows, None] * rng.uniform(0.8, 1.2, (thief_rows.size, d))
            bypass_off = rng.random((thief_rows.size, d)) < BYPASS_OFF_SHARE
            theft_factor[thief_rows] = np.where(
                stealing[thief_rows] & ~bypass_off, 1 - drop.clip(0, 0.95), 1.0
            )

        # Energy not delivered while the feeder or transformer was down.
        lost = np.zeros((n, d))
        hit = (
            (self.outage_day >= days[0])
            & (self.outage_day <= days[-1])
            & (self.outage_customer >= lo)
            & (self.outage_customer < hi)
        )
        np.add.at(
            lost,
            (self.outage_customer[hit] - lo, self.outage_day[hit] - days[0]),
            self.outage_share[hit],
        )

        suspended = col >= c.suspend_day[sl, None]
        noise = np.exp(rng.normal(0.0, 1.0, (n, d)) * c.noise_sd[sl, None])
        metered = expected * theft_factor * noise * (1 - 0.9 * np.minimum(lost, 1.0))
        metered = np.where(supplied & ~suspended, np.round(metered, 2), 0.0)

        u = rng.random((n, d))
        p_missing = self.p_missing[sl, None]
        quality = np.select(
            [u < p_missing, u < p_missing + self.p_estimated[sl, None]],
            [MISSING, ESTIMATED],
            ACTUAL,
        ).astype(np.int8)
        # The head-end fills an estimated day from the expected profile, not from the meter.
        estimate = np.where(suspended, 0.0, np.round(expected * theft_factor, 2))
        shown = np.where(quality == ESTIMATED, estimate, metered)
        daily_lf = (c.load_factor[sl, None] * np.exp(rng.normal(0.0, 0.12, (n, d)))).clip(0.1, 0.95)
        demand = np.round(np.minimum(shown / (24 * daily_lf), 0.98 * c.capacity_kva[sl, None]), 3)

        rows, cols = np.nonzero(supplied)
        reads = MonthReads(
            customer=lo + rows,
            day=days[cols],
            kwh=shown[rows, cols],
            max_demand_kw=demand[rows, cols],
            quality=quality[rows, cols],
        )
        return reads, metered.sum(axis=1), (supplied & ~suspended).sum(axis=1)
