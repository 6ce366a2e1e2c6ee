"""Supply topology (customer → transformer → feeder), outage events, and who each outage hit.

Outages are drawn per feeder and per transformer; exposure pairs feed reads, tickets and surveys.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from powerseg.contract import OUTAGE_CAUSES

from .clock import SECONDS_PER_DAY, Window, day_of_year, stream, weekday
from .customers import V10, Customers

PLANNED_MAINTENANCE = OUTAGE_CAUSES.index("planned_maintenance")
UNPLANNED_CAUSES = np.array(
    [
        OUTAGE_CAUSES.index(c)
        for c in ("equipment_failure", "weather", "external_damage", "overload")
    ]
)
UNPLANNED_CAUSE_SHARE = np.array([0.40, 0.30, 0.18, 0.12])
WEATHER = OUTAGE_CAUSES.index("weather")
OVERLOAD = OUTAGE_CAUSES.index("overload")
PLANNED_SHARE = 0.3
FEEDER_OUTAGES_PER_YEAR = (3.0, 6.0)
TRANSFORMER_OUTAGES_PER_YEAR = 0.5


@dataclass
class Grid:
    transformer_of: np.ndarray  # per customer
    feeder_of_transformer: np.ndarray

    @property
    def n_transformers(self) -> int:
        return self.feeder_of_transformer.size

    @property
    def n_feeders(self) -> int:
        return int(self.feeder_of_transformer.max()) + 1 if self.n_transformers else 0

    @property
    def feeder_of(self) -> np.ndarray:
        return self.feeder_of_transformer[self.transformer_of]


@dataclass
class Outages:
    feeder: np.ndarray  # -1 for a transformer-level outage
    transformer: np.ndarray  # -1 for a feeder-level outage
    start: np.ndarray  # seconds since the epoch
    end: np.ndarray
    planned: np.ndarray
    cause: np.ndarray

    @property
    def n(self) -> int:
        return self.start.size

    @property
    def duration_hours(self) -> np.ndarray:
        return (self.end - self.start) / 3600.0


@dataclass
class Exposure:
    """(customer, outage) pairs: the customer was supplied when the outage began."""

    customer: np.ndarray
    outage: np.ndarray


def _chunk(rng: np.random.Generator, n_items: int, low: int, high: int) -> np.ndarray:
    """Group index per item, groups of low..high consecutive items."""
    sizes = rng.integers(low, high + 1, size=n_items // low + 1)
    return np.searchsorted(np.cumsum(sizes), np.arange(n_items), side="right")


def build_grid(seed: int, customers: Customers) -> Grid:
    """Low-voltage customers share transformers of 50-80; 10 kV+ sites have their own."""
    rng = stream(seed, "topology")
    dedicated = customers.voltage >= V10
    transformer_of = np.empty(customers.n, dtype=np.int64)
    feeders: list[np.ndarray] = []
    n_transformers = n_feeders = 0
    # One pass per district (about ten): a transformer or feeder never crosses a district border.
    for d in np.unique(customers.district_code):
        in_district = customers.district_code == d
        shared = np.flatnonzero(in_district & ~dedicated)
        shared = shared[rng.permutation(shared.size)]
        group = _chunk(rng, shared.size, 50, 80)
        n_shared = int(group.max()) + 1 if shared.size else 0
        transformer_of[shared] = n_transformers + group
        own = np.flatnonzero(in_district & dedicated)
        transformer_of[own] = n_transformers + n_shared + np.arange(own.size)
        n_local = n_shared + own.size
        feeder = _chunk(rng, n_local, 15, 25)[rng.permutation(n_local)]
        feeders.append(n_feeders + feeder)
        n_transformers += n_local
        n_feeders += int(feeder.max()) + 1 if n_local else 0
    return Grid(transformer_of=transformer_of, feeder_of_transformer=np.concatenate(feeders))


def build_outages(seed: int, grid: Grid, window: Window) -> Outages:
    rng = stream(seed, "outages")
    per_feeder = rng.poisson(rng.uniform(*FEEDER_OUTAGES_PER_YEAR, grid.n_feeders) * window.years)
    per_transformer = rng.poisson(TRANSFORMER_OUTAGES_PER_YEAR * window.years, grid.n_transformers)
    feeder = np.concatenate(
        [np.repeat(np.arange(grid.n_feeders), per_feeder), np.full(per_transformer.sum(), -1)]
    )
    transformer = np.concatenate(
        [np.full(per_feeder.sum(), -1), np.repeat(np.arange(grid.n_transformers), per_transformer)]
    )
    n = feeder.size
    planned = rng.random(n) < PLANNED_SHARE
    cause = np.where(
        planned,
        PLANNED_MAINTENANCE,
        UNPLANNED_CAUSES[rng.choice(4, size=n, p=UNPLANNED_CAUSE_SHARE)],
    )

    # Weather outages cluster in the summer storm season, overloads in summer and winter peaks;
    # the last day is excluded so every outage ends inside the window.
    days = window.days[:-1] if window.n_days > 1 else window.days
    doy = day_of_year(days)
    summer = np.exp(-(((doy - 200) / 45.0) ** 2))
    winter = np.exp(-((np.minimum(doy, 365 - doy) / 30.0) ** 2))
    day_weight = {WEATHER: 0.3 + 3 * summer, OVERLOAD: 0.3 + 2 * summer + 1.5 * winter}
    start_day = days[rng.integers(0, days.size, n)]
    for c, w in day_weight.items():
        hit = cause == c
        start_day[hit] = days[rng.choice(days.size, size=int(hit.sum()), p=w / w.sum())]
    # Planned work is announced for weekday mornings.
    wd = weekday(start_day)
    start_day = np.where(planned & (wd >= 5), start_day - (wd - 4), start_day)
    start_day = np.maximum(start_day, window.start)
    start_sec = np.where(
        planned, rng.integers(16, 21, n) * 1800, rng.integers(0, SECONDS_PER_DAY // 60, n) * 60
    )
    duration_min = np.where(
        planned,
        rng.integers(4, 17, n) * 30,
        np.exp(rng.normal(np.log(100), 0.7, n)).clip(30, 480).round(),
    )
    start = start_day * SECONDS_PER_DAY + start_sec
    end = start + duration_min.astype(np.int64) * 60
    order = np.lexsort((transformer, feeder, start))
    return Outages(
        feeder=feeder[order],
        transformer=transformer[order],
        start=start[order],
        end=end[order],
        planned=planned[order],
        cause=cause[order].astype(np.int8),
    )


def _expand(group_of: np.ndarray, n_groups: int, owner_group: np.ndarray):
    """For each owner in group g, every member of g: (owner index, member index) pairs."""
    order = np.argsort(group_of, kind="stable")
    ptr = np.searchsorted(group_of[order], np.arange(n_groups + 1))
    counts = ptr[owner_group + 1] - ptr[owner_group]
    owner = np.repeat(np.arange(owner_group.size), counts)
    within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    member = order[np.repeat(ptr[owner_group], counts) + within]
    return owner, member


def exposures(grid: Grid, outages: Outages, customers: Customers) -> Exposure:
    on_feeder = np.flatnonzero(outages.feeder >= 0)
    on_transformer = np.flatnonzero(outages.transformer >= 0)
    f_owner, f_member = _expand(grid.feeder_of, grid.n_feeders, outages.feeder[on_feeder])
    t_owner, t_member = _expand(
        grid.transformer_of, grid.n_transformers, outages.transformer[on_transformer]
    )
    outage = np.concatenate([on_feeder[f_owner], on_transformer[t_owner]])
    customer = np.concatenate([f_member, t_member])
    start_day = outages.start[outage] // SECONDS_PER_DAY
    supplied = (customers.open_day[customer] <= start_day) & (
        start_day <= customers.end_day[customer]
    )
    order = np.lexsort((customer[supplied], outage[supplied]))
    return Exposure(customer=customer[supplied][order], outage=outage[supplied][order])
