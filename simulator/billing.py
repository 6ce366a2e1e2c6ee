"""Monthly bills from metered kWh, and the payments that settle them (or do not).

Financial stress, with a persistent month-to-month hardship component, drives lateness and arrears.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from powerseg.contract import PAYMENT_CHANNELS

from .clock import SECONDS_PER_DAY, Window, categorical, stream
from .customers import Customers
from .tariff import bill_amount

COUNTER, BANK_DEBIT, APP, WECHAT, ALIPAY, SELF_SERVICE, AGENT = (
    PAYMENT_CHANNELS.index(ch)
    for ch in ("counter", "bank_debit", "app", "wechat", "alipay", "self_service_terminal", "agent")
)
DIGITAL_PAYMENT = np.array([APP, WECHAT, ALIPAY])
ISSUE_DAY_OF_MONTH = 3  # bills go out on the 3rd of the following month
DUE_DAY_OF_MONTH = 20
DEBIT_DAY_OF_MONTH = 12
PREFERRED_CHANNEL_SHARE = 0.8
HARDSHIP_PERSISTENCE = 0.75  # month-to-month autocorrelation of a customer's money trouble
LIFE_EVENT_RATE = 0.004  # per customer-month: job loss, illness… lasting six months
LIFE_EVENT_MONTHS = 6


@dataclass
class Bills:
    customer: np.ndarray
    month: np.ndarray  # window month index
    kwh: np.ndarray
    amount: np.ndarray
    issue_day: np.ndarray
    due_day: np.ndarray


def build_bills(
    c: Customers, window: Window, metered_kwh: np.ndarray, billable_days: np.ndarray
) -> Bills:
    """One bill per customer-month with any billed energy; kWh is the register difference."""
    kwh = np.round(metered_kwh)
    customer, month = np.nonzero(kwh >= 1)
    next_month = window.month_starts[month + 1]
    days_in_month = next_month - window.month_starts[month]
    amount = bill_amount(
        kwh[customer, month],
        c.tariff[customer],
        c.energy_price[customer],
        c.community[customer],
        c.capacity_kva[customer],
        billable_days[customer, month] / days_in_month,
    )
    return Bills(
        customer=customer,
        month=month,
        kwh=kwh[customer, month],
        amount=amount,
        issue_day=next_month + ISSUE_DAY_OF_MONTH - 1,
        due_day=next_month + DUE_DAY_OF_MONTH - 1,
    )


def effective_stress(seed: int, c: Customers, months: int) -> np.ndarray:
    """(customers, months) stress: the trait plus AR(1) hardship and occasional life events."""
    rng = stream(seed, "hardship")
    shocks = rng.normal(0.0, 1.0, (c.n, months))
    hardship = np.empty_like(shocks)
    hardship[:, 0] = shocks[:, 0]
    innovation = np.sqrt(1 - HARDSHIP_PERSISTENCE**2)
    for m in range(1, months):  # a loop over months, vectorised over customers
        hardship[:, m] = HARDSHIP_PERSISTENCE * hardship[:, m - 1] + innovation * shocks[:, m]
    events = np.cumsum(rng.random((c.n, months)) < LIFE_EVENT_RATE, axis=1)
    lagged = np.zeros_like(events)
    lagged[:, LIFE_EVENT_MONTHS:] = events[:, :-LIFE_EVENT_MONTHS]
    in_event = (events - lagged) > 0
    return np.clip(0.85 * c.stress[:, None] + 0.12 * hardship + 0.35 * in_event + 0.05, 0, 1)


def _channel_probabilities(c: Customers) -> np.ndarray:
    """(customers, channels) for manual payments: online share rises convexly with affinity."""
    d = c.digital[:, None] ** 1.3
    weights = np.zeros((c.n, len(PAYMENT_CHANNELS)))
    weights[:, [APP, WECHAT, ALIPAY]] = d * np.array([0.35, 0.35, 0.30])
    weights[:, [COUNTER, SELF_SERVICE, AGENT]] = (1 - d) * np.array([0.55, 0.25, 0.20])
    return weights / weights.sum(axis=1, keepdims=True)


def _time_of_day(rng, channel: np.ndarray) -> np.ndarray:
    """Seconds after midnight: debits run at night, counters keep office hours, apps 7-23 h."""
    n = channel.size
    online = rng.integers(7 * 3600, 23 * 3600, n)
    office = rng.integers(9 * 3600, 17 * 3600, n)
    night = rng.integers(2 * 3600, 5 * 3600, n)
    return np.select(
        [channel == BANK_DEBIT, np.isin(channel, DIGITAL_PAYMENT)], [night, online], office
    )


def build_payments(seed: int, c: Customers, window: Window, bills: Bills) -> dict[str, np.ndarray]:
    rng = stream(seed, "payments")
    stress = effective_stress(seed, c, window.months)[bills.customer, bills.month]
    n = bills.customer.size
    cust = bills.customer

    debit_ok = c.auto_debit[cust] & (rng.random(n) > 0.01 + 0.3 * stress**2)
    late = ~debit_ok & (rng.random(n) < 1 / (1 + np.exp(-(-3.8 + 5.5 * stress))))
    never = late & (rng.random(n) < 0.25 * stress**3)
    days_late = 1 + rng.gamma(1.2, 3 + 32 * stress**2)
    window_days = (bills.due_day - bills.issue_day).astype(float)
    earliness = np.clip(c.pay_earliness[cust] + rng.normal(0, 0.15, n), 0, 1)
    # On-time payments land at least a day before the due date, late ones at least a day after,
    # so "late" does not depend on how a reader compares a timestamp with a date.
    on_time_day = bills.issue_day + (1 - earliness) * (window_days - 1)
    pay_day = np.select(
        [debit_ok, late],
        [bills.issue_day - ISSUE_DAY_OF_MONTH + DEBIT_DAY_OF_MONTH, bills.due_day + days_late],
        on_time_day,
    )
    partial = ~debit_ok & (rng.random(n) < 0.02 + 0.22 * stress)
    gap_days = rng.exponential(7 + 40 * stress, n)

    cents = np.round(bills.amount * 100).astype(np.int64)
    partial &= cents >= 2  # a part payment is at least a cent and leaves at least a cent
    first_cents = np.where(partial, np.round(cents * rng.uniform(0.3, 0.8, n)), cents)
    first_cents = np.clip(first_cents, 1, np.maximum(cents - partial, 1)).astype(np.int64)
    probs = _channel_probabilities(c)
    preferred = categorical(rng, probs)

    def manual_channel(rows: np.ndarray) -> np.ndarray:
        fresh = categorical(rng, probs[cust[rows]])
        keep = rng.random(rows.size) < PREFERRED_CHANNEL_SHARE
        return np.where(keep, preferred[cust[rows]], fresh)

    first = np.flatnonzero(~never)
    second = np.flatnonzero(partial & ~never)
    bill_row = np.concatenate([first, second])
    day = np.concatenate([np.floor(pay_day[first]), np.floor(pay_day[second] + gap_days[second])])
    amount_cents = np.concatenate([first_cents[first], cents[second] - first_cents[second]])
    channel = np.concatenate(
        [
            np.where(debit_ok[first], BANK_DEBIT, manual_channel(first)),
            manual_channel(second),
        ]
    )
    paid_at = day.astype(np.int64) * SECONDS_PER_DAY + _time_of_day(rng, channel)
    # Nothing is paid before the bill exists, and the extract only holds what arrived by its end.
    paid_at = np.maximum(paid_at, bills.issue_day[bill_row] * SECONDS_PER_DAY + 8 * 3600)
    received = paid_at < (window.end + 1) * SECONDS_PER_DAY
    bill_row, paid_at = bill_row[received], paid_at[received]
    amount_cents, channel = amount_cents[received], channel[received]
    order = np.lexsort((bill_row, paid_at))
    return {
        "customer": cust[bill_row[order]],
        "month": bills.month[bill_row[order]],
        "paid_at": paid_at[order],
        "amount": amount_cents[order] / 100.0,
        "channel": channel[order].astype(np.int8),
    }
