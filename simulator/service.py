"""Customer service tables: work orders, channel interactions and SERVQUAL satisfaction surveys.

Outage sensitivity drives outage contacts, digital affinity the channels, stress billing queries.
"""

from __future__ import annotations

import numpy as np

from powerseg.contract import (
    INTERACTION_ACTIONS,
    INTERACTION_CHANNELS,
    SERVQUAL_DIMENSIONS,
    TICKET_TOPICS,
    TICKET_TYPES,
    WORK_ORDER_CHANNELS,
)

from . import billing
from .billing import Bills
from .clock import DAYS_PER_YEAR, SECONDS_PER_DAY, Window, categorical, stream
from .customers import Customers
from .grid import Exposure, Outages

COMPLAINT, FAULT_REPORT, INQUIRY, SUGGESTION, PRAISE, SERVICE_REQUEST = (
    TICKET_TYPES.index(t)
    for t in ("complaint", "fault_report", "inquiry", "suggestion", "praise", "service_request")
)
OUTAGE, BILLING, METER_READING, VOLTAGE_QUALITY, STAFF_ATTITUDE, CONNECTION = (
    TICKET_TOPICS.index(t)
    for t in (
        "outage",
        "billing",
        "meter_reading",
        "voltage_quality",
        "staff_attitude",
        "connection",
    )
)
WO_PHONE, WO_APP, WO_WECHAT, WO_WEB, WO_COUNTER = (
    WORK_ORDER_CHANNELS.index(ch) for ch in ("phone_95598", "app", "wechat", "web", "counter")
)
APP, WECHAT, WEB, COUNTER, PHONE, SELF_SERVICE = (
    INTERACTION_CHANNELS.index(ch)
    for ch in ("app", "wechat", "web", "counter", "phone_95598", "self_service_terminal")
)
LOGIN, BILL_VIEW, PAYMENT, BUSINESS_REQUEST, NOTIFICATION_READ = (
    INTERACTION_ACTIONS.index(a)
    for a in ("login", "bill_view", "payment", "business_request", "notification_read")
)
HOUR = 3600

# Background tickets per customer-year: (type, topic, base, +stress, +sensitivity, +business,
# +digital) — rate = base + Σ coefficient × trait.
BACKGROUND_TICKETS = (
    (INQUIRY, BILLING, 0.08, 0.50, 0.0, 0.05, 0.0),
    (COMPLAINT, BILLING, 0.02, 0.20, 0.0, 0.02, 0.0),
    (INQUIRY, METER_READING, 0.04, 0.05, 0.0, 0.0, 0.0),
    (COMPLAINT, METER_READING, 0.015, 0.03, 0.0, 0.0, 0.0),
    (COMPLAINT, VOLTAGE_QUALITY, 0.02, 0.0, 0.08, 0.08, 0.0),
    (FAULT_REPORT, VOLTAGE_QUALITY, 0.03, 0.0, 0.05, 0.05, 0.0),
    (FAULT_REPORT, OUTAGE, 0.05, 0.0, 0.10, 0.05, 0.0),  # own-side faults, no grid outage
    (COMPLAINT, STAFF_ATTITUDE, 0.015, 0.02, 0.03, 0.0, 0.0),
    (PRAISE, STAFF_ATTITUDE, 0.02, -0.015, 0.0, 0.01, 0.0),
    (SERVICE_REQUEST, CONNECTION, 0.03, 0.0, 0.0, 0.15, 0.0),
    (SUGGESTION, BILLING, 0.01, 0.0, 0.0, 0.0, 0.03),
)
# Hours from opening to closing a ticket: lognormal median and spread per ticket type.
CLOSE_HOURS = {
    COMPLAINT: (36, 0.6),
    FAULT_REPORT: (4, 0.6),
    INQUIRY: (0.5, 0.8),
    SUGGESTION: (72, 0.5),
    PRAISE: (0.2, 0.5),
    SERVICE_REQUEST: (120, 0.5),
}
RATING_MEAN = {
    COMPLAINT: 3.0,
    FAULT_REPORT: 3.9,
    INQUIRY: 4.2,
    SUGGESTION: 4.0,
    PRAISE: 4.9,
    SERVICE_REQUEST: 4.2,
}
# Interaction actions per channel: logins and notifications happen online only.
_ACTION_SHARES = {
    APP: {LOGIN: 0.45, BILL_VIEW: 0.30, BUSINESS_REQUEST: 0.10, NOTIFICATION_READ: 0.15},
    WECHAT: {LOGIN: 0.40, BILL_VIEW: 0.35, BUSINESS_REQUEST: 0.10, NOTIFICATION_READ: 0.15},
    WEB: {LOGIN: 0.50, BILL_VIEW: 0.35, BUSINESS_REQUEST: 0.15},
    COUNTER: {BILL_VIEW: 0.35, BUSINESS_REQUEST: 0.65},
    PHONE: {BILL_VIEW: 0.35, BUSINESS_REQUEST: 0.65},
    SELF_SERVICE: {BILL_VIEW: 0.80, BUSINESS_REQUEST: 0.20},
}
ACTION_MIX = np.zeros((len(INTERACTION_CHANNELS), len(INTERACTION_ACTIONS)))
for _channel, _shares in _ACTION_SHARES.items():
    ACTION_MIX[_channel, list(_shares)] = list(_shares.values())
SURVEY_SHARE = {False: 0.06, True: 0.15}  # residential / business customers surveyed per year
DIMENSION_EXPECTATION = np.array([0.4, 0.2, 0.0, -0.2, -0.5])
DIMENSION_PERCEPTION = np.array([0.1, -0.1, 0.2, 0.0, 0.1])


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _ticket_channel(rng, c: Customers, cust: np.ndarray) -> np.ndarray:
    """Online channels in proportion to digital affinity; 95598 and the counter otherwise."""
    d = c.digital[cust]
    w = np.zeros((cust.size, len(WORK_ORDER_CHANNELS)))
    w[:, WO_PHONE] = 0.2 * d + 0.65 * (1 - d)
    w[:, WO_APP] = 0.4 * d
    w[:, WO_WECHAT] = 0.3 * d
    w[:, WO_WEB] = 0.1 * d + 0.05 * c.business[cust]
    w[:, WO_COUNTER] = 0.35 * (1 - d)
    return categorical(rng, w / w.sum(axis=1, keepdims=True))


def _office_time(rng, channel_is_office: np.ndarray, day: np.ndarray) -> np.ndarray:
    n = day.size
    tod = np.where(
        channel_is_office,
        rng.integers(9 * HOUR, 17 * HOUR, n),
        rng.integers(7 * HOUR, 23 * HOUR, n),
    )
    return day * SECONDS_PER_DAY + tod


def _uniform_days(rng, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """A uniform day in [lo, hi] inclusive per row."""
    return lo + np.floor(rng.random(lo.size) * (hi - lo + 1)).astype(np.int64)


def _expand_counts(counts: np.ndarray):
    flat = np.repeat(np.arange(counts.size), counts.ravel())
    return np.divmod(flat, counts.shape[1])


def _close_and_rate(rng, ticket_type, created, mood):
    n = ticket_type.size
    median = np.array([CLOSE_HOURS[t][0] for t in range(len(TICKET_TYPES))])[ticket_type]
    spread = np.array([CLOSE_HOURS[t][1] for t in range(len(TICKET_TYPES))])[ticket_type]
    closed = created + (median * np.exp(rng.normal(0, 1, n) * spread) * HOUR).astype(np.int64)
    closed = np.maximum(closed, created + 300)
    mean = np.array([RATING_MEAN[t] for t in range(len(TICKET_TYPES))])[ticket_type] + mood
    rating = np.clip(np.round(mean + rng.normal(0, 0.8, n)), 1, 5)
    rated = rng.random(n) > 0.38
    return closed, np.where(rated, rating, 0).astype(np.int64)


def build_work_orders(
    seed: int, c: Customers, window: Window, outages: Outages, exposure: Exposure
) -> dict[str, np.ndarray]:
    rng = stream(seed, "work_orders")
    parts = [_outage_contacts(rng, c, outages, exposure), _background_tickets(rng, c, window)]
    # New connections in the window leave a service request on their opening day.
    new = np.flatnonzero(c.open_day >= window.start)
    channel = _ticket_channel(rng, c, new)
    created = _office_time(rng, np.ones(new.size, dtype=bool), c.open_day[new])
    ticket_type = np.full(new.size, SERVICE_REQUEST)
    closed, rating = _close_and_rate(rng, ticket_type, created, 0.0)
    parts.append(
        (new, created, channel, ticket_type, np.full(new.size, CONNECTION), closed, rating)
    )

    cust, created, channel, ticket_type, topic, closed, rating = (
        np.concatenate(x) for x in zip(*parts, strict=True)
    )
    end = (window.end + 1) * SECONDS_PER_DAY
    keep = created < end
    order = np.lexsort((cust[keep], created[keep]))
    closed = closed[keep][order]
    still_open = closed >= end  # at the extract date: no closing time and no rating yet
    return {
        "customer": cust[keep][order],
        "created": created[keep][order],
        "channel": channel[keep][order].astype(np.int8),
        "ticket_type": ticket_type[keep][order].astype(np.int8),
        "topic": topic[keep][order].astype(np.int8),
        "closed": closed,
        "closed_missing": still_open,
        "satisfaction": np.where(still_open, 0, rating[keep][order]),
    }


def _outage_contacts(rng, c: Customers, outages: Outages, exposure: Exposure):
    """P(contact) is logistic in sensitivity; unplanned and long outages provoke more calls."""
    cust, o = exposure.customer, exposure.outage
    s = c.sensitivity[cust]
    planned = outages.planned[o]
    hours = outages.duration_hours[o]
    logit = (
        -5.4
        + 8.0 * s
        + np.where(planned, -0.9, 0.4)
        + 0.45 * np.log(hours / 2)
        + 0.3 * c.business[cust]
        + 0.5 * c.important[cust]
    )
    hit = np.flatnonzero(rng.random(cust.size) < _sigmoid(logit))
    cust, o, s, planned, hours = cust[hit], o[hit], s[hit], planned[hit], hours[hit]
    n = hit.size

    delay_h = np.where(
        planned, rng.exponential(0.5 * hours + 1), rng.exponential(0.3 * hours + 0.5)
    )
    slow = rng.random(n) < 0.08  # some only complain days later, outside the 72 h window
    delay_h = np.where(slow, rng.uniform(72, 120, n), np.minimum(delay_h, 71))
    created = outages.start[o] + (delay_h * HOUR).astype(np.int64) + rng.integers(0, 60, n)
    complaint = rng.random(n) < np.clip(0.25 + 0.35 * s + 0.15 * (hours > 4), 0, 0.9)
    ticket_type = np.select([complaint, planned], [COMPLAINT, INQUIRY], FAULT_REPORT)
    # Nobody queues at a counter to report a dark house: counter-goers phone 95598 instead.
    channel = _ticket_channel(rng, c, cust)
    channel = np.where(channel == WO_COUNTER, WO_PHONE, channel)
    mood = -1.6 * (s - 0.3) - 0.4 * (hours > 4)
    closed, rating = _close_and_rate(rng, ticket_type, created, mood)
    # A fault report is closed once supply is back.
    restored = outages.end[o] + (rng.uniform(0.2, 3, n) * HOUR).astype(np.int64)
    closed = np.where(ticket_type == FAULT_REPORT, np.maximum(restored, created + 600), closed)
    return cust, created, channel, ticket_type, np.full(n, OUTAGE), closed, rating


def _background_tickets(rng, c: Customers, window: Window):
    table = np.array(BACKGROUND_TICKETS)
    traits = np.stack(
        [np.ones(c.n), c.stress, c.sensitivity, c.business.astype(float), c.digital], axis=1
    )
    rates = np.clip(traits @ table[:, 2:].T, 0, None)
    start = c.active_start(window)
    years = (c.end_day - start + 1) / DAYS_PER_YEAR
    cust, kind = _expand_counts(rng.poisson(rates * years[:, None]))
    ticket_type = table[kind, 0].astype(np.int64)
    topic = table[kind, 1].astype(np.int64)
    channel = _ticket_channel(rng, c, cust)
    day = _uniform_days(rng, start[cust], c.end_day[cust])
    created = _office_time(rng, channel == WO_COUNTER, day)
    mood = -0.5 * (c.stress[cust] > 0.7)
    closed, rating = _close_and_rate(rng, ticket_type, created, mood)
    return cust, created, channel, ticket_type, topic, closed, rating


def build_interactions(
    seed: int, c: Customers, window: Window, bills: Bills, payments: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    rng = stream(seed, "interactions")
    end = (window.end + 1) * SECONDS_PER_DAY

    # Payments made in a service channel are logged there too.
    pay_map = np.full(len(billing.PAYMENT_CHANNELS), -1)
    pay_map[[billing.APP, billing.WECHAT, billing.COUNTER, billing.SELF_SERVICE]] = (
        APP,
        WECHAT,
        COUNTER,
        SELF_SERVICE,
    )
    logged = pay_map[payments["channel"]] >= 0
    paid = (
        payments["customer"][logged],
        payments["paid_at"][logged],
        pay_map[payments["channel"][logged]],
        np.full(int(logged.sum()), PAYMENT),
    )

    # Digital customers read the new-bill notification within a few days of issue.
    d_bill = c.digital[bills.customer]
    reads = np.flatnonzero(rng.random(bills.customer.size) < 0.85 * d_bill**1.5)
    note_time = (
        bills.issue_day[reads] * SECONDS_PER_DAY
        + 9 * HOUR
        + (rng.exponential(1.5, reads.size) * SECONDS_PER_DAY).astype(np.int64)
    )
    notes = (
        bills.customer[reads],
        note_time,
        np.where(rng.random(reads.size) < 0.6, WECHAT, APP),
        np.full(reads.size, NOTIFICATION_READ),
    )

    # Free interactions: the rate and the digital share both rise with digital affinity.
    start = c.active_start(window)
    years = (c.end_day - start + 1) / DAYS_PER_YEAR
    rate = (4 + 30 * c.digital**1.5) * np.where(c.business, 1.3, 1.0)
    cust = np.repeat(np.arange(c.n), rng.poisson(rate * years))
    digital = rng.random(cust.size) < c.digital[cust] ** 1.5
    channel = np.where(
        digital,
        np.array([APP, WECHAT, WEB])[rng.choice(3, cust.size, p=[0.5, 0.38, 0.12])],
        np.array([COUNTER, PHONE, SELF_SERVICE])[rng.choice(3, cust.size, p=[0.4, 0.42, 0.18])],
    )
    action = categorical(rng, ACTION_MIX[channel])
    day = _uniform_days(rng, start[cust], c.end_day[cust])
    occurred = _office_time(rng, np.isin(channel, [COUNTER, SELF_SERVICE]), day)
    free = (cust, occurred, channel, action)

    cust, occurred, channel, action = (
        np.concatenate(x) for x in zip(paid, notes, free, strict=True)
    )
    keep = occurred < end
    cust, occurred, channel, action = cust[keep], occurred[keep], channel[keep], action[keep]
    order = np.lexsort((action, channel, cust, occurred))
    cust, occurred, channel, action = cust[order], occurred[order], channel[order], action[order]
    unique = np.ones(cust.size, dtype=bool)
    unique[1:] = (
        (np.diff(occurred) != 0)
        | (np.diff(cust) != 0)
        | (np.diff(channel) != 0)
        | (np.diff(action) != 0)
    )
    return {
        "customer": cust[unique],
        "occurred": occurred[unique],
        "channel": channel[unique].astype(np.int8),
        "action": action[unique].astype(np.int8),
    }


def _count_before(
    owner: np.ndarray, day: np.ndarray, q_owner: np.ndarray, q_day: np.ndarray, lookback: int
) -> np.ndarray:
    """Per query, events of the same owner with day in (q_day - lookback, q_day]."""
    key = np.sort(owner.astype(np.int64) * 1_000_000 + day)
    q = q_owner.astype(np.int64) * 1_000_000 + q_day
    return np.searchsorted(key, q, side="right") - np.searchsorted(key, q - lookback, side="right")


def build_surveys(
    seed: int,
    c: Customers,
    window: Window,
    outages: Outages,
    exposure: Exposure,
    work_orders: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    rng = stream(seed, "surveys")
    start = c.active_start(window)
    who_parts, day_parts = [], []
    # One survey wave per 12 months, counted back from the end of the window.
    for top in range(window.months, 0, -12):
        lo, hi = window.month_starts[max(top - 12, 0)], window.month_starts[top] - 1
        a0, a1 = np.maximum(start, lo), np.minimum(c.end_day, hi)
        share = np.where(c.business, SURVEY_SHARE[True], SURVEY_SHARE[False])
        who = np.flatnonzero((a1 >= a0) & (rng.random(c.n) < share * (hi - lo + 1) / 365))
        who_parts.append(who)
        day_parts.append(_uniform_days(rng, a0[who], a1[who]))
    who, day = np.concatenate(who_parts), np.concatenate(day_parts)
    order = np.lexsort((who, day))
    who, day = who[order], day[order]
    n = who.size

    outage_day = outages.start[exposure.outage] // SECONDS_PER_DAY
    outages_12m = _count_before(exposure.customer, outage_day, who, day, 365)
    complaint = work_orders["ticket_type"] == COMPLAINT
    complaints_12m = _count_before(
        work_orders["customer"][complaint],
        work_orders["created"][complaint] // SECONDS_PER_DAY,
        who,
        day,
        365,
    )
    s, d, stress = c.sensitivity[who], c.digital[who], c.stress[who]
    person_e = rng.normal(0, 0.4, n)
    person_p = rng.normal(0, 0.5, n)
    k = len(SERVQUAL_DIMENSIONS)
    expectation = (
        (5.3 + 0.5 * c.business[who] + 0.4 * c.important[who] + person_e)[:, None]
        + DIMENSION_EXPECTATION[None, :]
        + rng.normal(0, 0.5, (n, k))
    )
    expectation[:, 0] += 1.2 * (s - 0.5)
    expectation[:, 1] += 0.8 * (s - 0.5)
    perception = (
        (5.0 + person_p)[:, None] + DIMENSION_PERCEPTION[None, :] + rng.normal(0, 0.6, (n, k))
    )
    perception[:, 0] += -0.25 * (outages_12m - 4).clip(-3, 8) - 0.8 * (s - 0.5)
    perception[:, 1] += -0.35 * np.minimum(complaints_12m, 3)
    perception[:, 3] += -0.8 * (stress - 0.4)
    perception[:, 4] += 0.5 * (d - 0.5)
    return {
        "customer": np.repeat(who, k),
        "day": np.repeat(day, k),
        "dimension": np.tile(np.arange(k), n),
        "expectation": np.clip(np.round(expectation), 1, 7).astype(np.int64).ravel(),
        "perception": np.clip(np.round(perception), 1, 7).astype(np.int64).ravel(),
    }
