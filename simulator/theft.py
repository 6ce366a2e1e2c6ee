"""Electricity theft over time: meter events, targeted and random inspections, thieves caught.

Month by month, because inspections target recent tamper events and a caught thief stops stealing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from powerseg.contract import INSPECTION_RESULTS, METER_EVENT_TYPES

from .clock import DAYS_PER_YEAR, SECONDS_PER_DAY, Window, stream
from .customers import NEVER, Customers, top_k
from .grid import Exposure, Outages

COVER_OPEN, REVERSE_ENERGY, PHASE_LOSS, CURRENT_IMBALANCE, CLOCK_ERROR, POWER_OFF = (
    METER_EVENT_TYPES.index(t)
    for t in (
        "cover_open",
        "reverse_energy",
        "phase_loss",
        "current_imbalance",
        "clock_error",
        "power_off",
    )
)
TAMPER = np.array([COVER_OPEN, REVERSE_ENERGY, PHASE_LOSS, CURRENT_IMBALANCE])
NORMAL, THEFT, VIOLATION = (INSPECTION_RESULTS.index(r) for r in ("normal", "theft", "violation"))

INSPECTIONS_PER_CUSTOMER_YEAR = 0.035
TARGETED_SHARE = 0.5
REINSPECTION_GAP_DAYS = 180
# P(theft), P(violation) when a thief is inspected while stealing.
THIEF_FINDING = (0.72, 0.08)
# Share of meters whose power-down during a grid outage reaches the head-end system.
OUTAGE_POWER_OFF_SHARE = 0.5


@dataclass
class TheftOutcome:
    caught_day: np.ndarray  # per customer, NEVER when not caught
    events: dict[str, np.ndarray]  # customer, time, event_type
    inspections: dict[str, np.ndarray]  # customer, day, result, recovered_kwh, penalty


def _event_rates(c: Customers) -> tuple[np.ndarray, np.ndarray]:
    """Yearly event rates per customer and type: background, and extra while stealing."""
    three = c.three_phase.astype(float)
    tamper_bias = 1 + 2 * c.theft_propensity  # honest but careless customers also trip alarms
    background = np.zeros((c.n, len(METER_EVENT_TYPES)))
    background[:, COVER_OPEN] = 0.04 * tamper_bias
    background[:, REVERSE_ENERGY] = 0.03 * tamper_bias
    background[:, PHASE_LOSS] = 0.08 * three
    background[:, CURRENT_IMBALANCE] = 0.02 + 0.15 * three
    background[:, CLOCK_ERROR] = 0.25
    background[:, POWER_OFF] = 0.6
    stealing = np.zeros_like(background)
    stealing[:, COVER_OPEN] = 2.0
    stealing[:, REVERSE_ENERGY] = np.where(c.three_phase, 0.6, 1.5)
    stealing[:, PHASE_LOSS] = 1.2 * three
    stealing[:, CURRENT_IMBALANCE] = 0.3 + 2.5 * three
    stealing[:, CLOCK_ERROR] = 0.2
    stealing[:, POWER_OFF] = 1.0
    return background, stealing * c.theft_stealth[:, None]


def _scatter(rng, counts: np.ndarray, lo_day: np.ndarray, hi_day: np.ndarray):
    """Expand an (n, types) count matrix into events at uniform times in [lo_day, hi_day)."""
    flat = np.repeat(np.arange(counts.size), counts.ravel())
    customer, etype = np.divmod(flat, counts.shape[1])
    span = (hi_day - lo_day)[customer] * SECONDS_PER_DAY
    time = lo_day[customer] * SECONDS_PER_DAY + np.floor(rng.random(flat.size) * span).astype(
        np.int64
    )
    return customer, time, etype


def simulate_theft(
    seed: int, c: Customers, window: Window, outages: Outages, exposure: Exposure
) -> TheftOutcome:
    rng = stream(seed, "theft")
    background, stealing = _event_rates(c)
    caught = np.full(c.n, NEVER, dtype=np.int64)
    last_inspected = np.full(c.n, -NEVER, dtype=np.int64)
    tamper_by_month = np.zeros((c.n, window.months), dtype=np.int64)
    active_start = c.active_start(window)
    ev: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    insp: list[tuple[np.ndarray, ...]] = []

    for m in range(window.months):
        d0, d1 = window.month_starts[m], window.month_starts[m + 1]
        a0 = np.maximum(active_start, d0)
        a1 = np.maximum(np.minimum(c.end_day + 1, d1), a0)
        t0 = np.clip(c.theft_start_day, a0, a1)
        t1 = np.clip(caught, t0, a1)
        counts = rng.poisson(background * ((a1 - a0) / DAYS_PER_YEAR)[:, None])
        ev.append(_scatter(rng, counts, a0, a1))
        theft_counts = rng.poisson(stealing * ((t1 - t0) / DAYS_PER_YEAR)[:, None])
        ev.append(_scatter(rng, theft_counts, t0, t1))
        # Opening the meter cover to fit a bypass often raises an alarm on the first day.
        starting = (c.theft_start_day >= d0) & (c.theft_start_day < d1) & (t1 > t0)
        starting &= rng.random(c.n) < 0.5 * c.theft_stealth
        who = np.flatnonzero(starting)
        ev.append(
            (
                who,
                c.theft_start_day[who] * SECONDS_PER_DAY
                + rng.integers(0, SECONDS_PER_DAY, who.size),
                np.full(who.size, COVER_OPEN),
            )
        )
        tamper_by_month[:, m] = (
            counts[:, TAMPER].sum(axis=1) + theft_counts[:, TAMPER].sum(axis=1) + starting
        )

        found = _inspect_month(rng, c, m, d0, a0, a1, caught, last_inspected, tamper_by_month)
        insp.append(found)
        who, day, result, *_ = found
        stealing_now = (c.theft_start_day[who] <= day) & (day < caught[who])
        stops = stealing_now & (
            (result == THEFT) | ((result == VIOLATION) & (rng.random(who.size) < 0.5))
        )
        caught[who[stops]] = day[stops]
        last_inspected[who] = day

    events = _events_table(rng, ev, outages, exposure)
    columns = [np.concatenate(x) for x in zip(*insp, strict=True)]
    order = np.lexsort((columns[0], columns[1]))
    inspections = dict(
        zip(
            ("customer", "day", "result", "recovered_kwh", "penalty"),
            (col[order] for col in columns),
            strict=True,
        )
    )
    return TheftOutcome(caught_day=caught, events=events, inspections=inspections)


def _inspect_month(rng, c, m, d0, a0, a1, caught, last_inspected, tamper_by_month):
    supplied = a1 > a0
    eligible = supplied & (last_inspected + REINSPECTION_GAP_DAYS < d0)
    n_total = rng.poisson(INSPECTIONS_PER_CUSTOMER_YEAR / 12 * supplied.sum())
    n_targeted = rng.binomial(n_total, TARGETED_SHARE)
    # Targeting: tamper alarms of the last three months, plus line-loss analytics that flag
    # some active thieves; the rest of the list is a random sweep that favours business sites.
    recent = tamper_by_month[:, max(m - 3, 0) : m].sum(axis=1)
    stealing = (c.theft_start_day < a0) & (caught > a0)
    analytics = stealing & (rng.random(c.n) < 0.3)
    weight = eligible * (0.05 + recent.astype(float) ** 1.2 + 0.6 * analytics)
    targeted = top_k(rng, weight, n_targeted)
    sweep_weight = eligible * (1.0 + c.business)
    sweep_weight[targeted] = 0
    swept = top_k(rng, sweep_weight, n_total - targeted.size)
    who = np.sort(np.concatenate([targeted, swept]))

    day = a0[who] + np.floor(rng.random(who.size) * (a1 - a0)[who]).astype(np.int64)
    active_theft = (c.theft_start_day[who] <= day) & (day < caught[who])
    u = rng.random(who.size)
    p_violation = 0.015 + 0.08 * c.theft_propensity[who] + 0.02 * c.business[who]
    result = np.where(
        active_theft,
        np.select([u < THIEF_FINDING[0], u < sum(THIEF_FINDING)], [THEFT, VIOLATION], NORMAL),
        np.select([u < 0.003, u < 0.003 + p_violation], [THEFT, VIOLATION], NORMAL),
    )
    # Back-billing is capped at 180 days of estimated loss; the penalty is three times its value.
    stolen_days = np.clip(day - c.theft_start_day[who], 30, 180)
    stolen = c.base_kwh[who] * np.where(
        active_theft, c.theft_drop[who], rng.uniform(0.1, 0.3, who.size)
    )
    theft_kwh = stolen * np.where(active_theft, stolen_days, rng.uniform(30, 180, who.size))
    violation_kwh = np.where(
        rng.random(who.size) < 0.4, c.base_kwh[who] * rng.uniform(0.05, 0.2, who.size) * 60, 0.0
    )
    recovered = np.select(
        [result == THEFT, result == VIOLATION],
        [theft_kwh * np.exp(rng.normal(0, 0.3, who.size)), violation_kwh],
        np.nan,
    )
    fixed_fine = rng.uniform(500, 5000, who.size) * (1 + 2 * c.business[who])
    penalty = np.select(
        [result == THEFT, result == VIOLATION],
        [
            3 * recovered * c.energy_price[who],
            np.maximum(2 * violation_kwh * c.energy_price[who], fixed_fine),
        ],
        np.nan,
    )
    return who, day, result.astype(np.int8), np.round(recovered, 1), np.round(penalty, 2)


def _events_table(rng, ev, outages: Outages, exposure: Exposure) -> dict[str, np.ndarray]:
    logged = rng.random(exposure.customer.size) < OUTAGE_POWER_OFF_SHARE
    grid_off = (
        exposure.customer[logged],
        outages.start[exposure.outage[logged]] + rng.integers(0, 30, int(logged.sum())),
        np.full(int(logged.sum()), POWER_OFF),
    )
    customer, time, etype = (np.concatenate(x) for x in zip(*ev, grid_off, strict=True))
    order = np.lexsort((etype, time, customer))
    customer, time, etype = customer[order], time[order], etype[order]
    # The contract key is (customer, time, type): one meter cannot log the same event twice.
    keep = np.ones(customer.size, dtype=bool)
    keep[1:] = (np.diff(customer) != 0) | (np.diff(time) != 0) | (np.diff(etype) != 0)
    return {
        "customer": customer[keep],
        "time": time[keep],
        "event_type": etype[keep].astype(np.int8),
    }
