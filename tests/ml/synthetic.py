"""Synthetic feature marts with planted structure, shaped like docs/feature_marts.md.

Each customer gets hidden traits (value, outage sensitivity, financial stress, digital affinity,
theft) and two as-of months of features generated from them, plus fct_outcomes for the first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml.config import CHANNELS

CUSTOMER_TYPES = np.array(["residential", "commercial", "industrial", "agricultural"])
TARIFF_BY_TYPE = {
    "residential": "residential_tiered",
    "commercial": "general_commercial",
    "industrial": "large_industry",
    "agricultural": "agricultural",
}


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


@dataclass(frozen=True)
class SyntheticMarts:
    traits: pd.DataFrame
    train: dict[str, pd.DataFrame]  # factor → mart rows of the training as-of month
    score: dict[str, pd.DataFrame]  # factor → mart rows of the scored as-of month
    outcomes: pd.DataFrame  # fct_outcomes of the training month


def make_traits(n: int, rng: np.random.Generator) -> pd.DataFrame:
    customer_type = rng.choice(CUSTOMER_TYPES, size=n, p=[0.8, 0.1, 0.06, 0.04])
    size = np.select(
        [customer_type == "industrial", customer_type == "commercial"], [3.0, 1.8], default=0.0
    )
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:07d}" for i in range(n)],
            "customer_type": customer_type,
            "log_value": size + rng.normal(0, 0.8, n),
            "outage_sensitivity": rng.normal(0, 1, n),
            "financial_stress": rng.normal(0, 1, n),
            "digital_affinity": rng.beta(2, 2, n),
            "is_thief": rng.random(n) < 0.04,
            "tenure_months": rng.integers(1, 240, n),
        }
    )


def _contribution(t: pd.DataFrame, rng, drift: float) -> pd.DataFrame:
    n = len(t)
    price = np.select(
        [t.customer_type == "industrial", t.customer_type == "commercial"], [0.75, 0.9], 0.55
    ) * rng.lognormal(0, 0.05, n)
    revenue = 3000 * np.exp(t.log_value + drift + rng.normal(0, 0.15, n))
    return pd.DataFrame(
        {
            "revenue_12m_cny": revenue,
            "kwh_12m": revenue / price,
            "unit_price_cny_per_kwh": price,
            "kwh_growth_ratio": rng.normal(0.02, 0.1, n),
            "load_factor": np.clip(rng.normal(0.4, 0.1, n), 0.05, 0.95),
            "capacity_utilisation": np.clip(rng.normal(0.5, 0.15, n), 0.01, 1.5),
            "tenure_months": t.tenure_months.to_numpy(),
            "on_time_payment_rate_12m": np.clip(
                1 - sigmoid(t.financial_stress - 1.5) + rng.normal(0, 0.05, n), 0, 1
            ),
        }
    )


def _outage(t: pd.DataFrame, rng) -> pd.DataFrame:
    n = len(t)
    outages = rng.poisson(2.0, n)
    contacts = rng.binomial(outages, sigmoid(-1.5 + 1.2 * t.outage_sensitivity))
    fault_reports = contacts + rng.poisson(0.3, n)
    complaints = rng.poisson(0.2 + 0.3 * sigmoid(t.outage_sensitivity), n)
    surveyed = rng.random(n) < 0.3
    return pd.DataFrame(
        {
            "outages_experienced_12m": outages,
            "unplanned_outages_12m": rng.binomial(outages, 0.6),
            "outage_minutes_12m": outages * rng.gamma(2, 60, n),
            "outage_contacts_72h_12m": contacts,
            "outage_contact_rate_12m": np.divide(
                contacts, outages, out=np.zeros(n), where=outages > 0
            ),
            "complaints_12m": complaints,
            "fault_reports_12m": fault_reports,
            "tickets_12m": complaints + fault_reports + rng.poisson(0.5, n),
            "reliability_gap": np.where(
                surveyed, np.round(rng.normal(0.5 + 0.5 * t.outage_sensitivity, 1), 1), np.nan
            ),
            "is_important": rng.random(n) < 0.03,
            "is_business": (t.customer_type != "residential").to_numpy(),
            "contracted_capacity_kva": np.exp(2 + t.log_value + rng.normal(0, 0.3, n)),
            "kwh_12m": 5000 * np.exp(t.log_value + rng.normal(0, 0.2, n)),
        }
    )


def _arrears(t: pd.DataFrame, rng) -> pd.DataFrame:
    n = len(t)
    bills = np.minimum(12, t.tenure_months.to_numpy())
    late = rng.binomial(bills, sigmoid(-2.5 + 1.5 * t.financial_stress))
    late_rate = np.divide(late, bills, out=np.zeros(n), where=bills > 0)
    avg_days = np.where(late > 0, rng.gamma(2, 5 + 5 * sigmoid(t.financial_stress)), 0.0)
    unpaid = rng.binomial(2, sigmoid(-3 + 1.5 * t.financial_stress))
    avg_bill = 250 * np.exp(t.log_value + rng.normal(0, 0.2, n))
    return pd.DataFrame(
        {
            "customer_type": t.customer_type.to_numpy(),
            "tariff": t.customer_type.map(TARIFF_BY_TYPE).to_numpy(),
            "tenure_months": t.tenure_months.to_numpy(),
            "bills_12m": bills,
            "avg_bill_cny": avg_bill,
            "late_payments_12m": late,
            "late_payment_rate_12m": late_rate,
            "avg_days_late_12m": avg_days,
            "max_days_late_12m": avg_days * rng.uniform(1, 2.5, n),
            "partial_payments_12m": rng.binomial(late, 0.3),
            "unpaid_bills_at_as_of": unpaid,
            "unpaid_amount_at_as_of_cny": unpaid * avg_bill,
            "auto_debit_share_12m": np.clip(
                sigmoid(-t.financial_stress) + rng.normal(0, 0.2, n), 0, 1
            ),
            "months_since_last_late": np.where(
                late > 0, rng.integers(0, 12, n), t.tenure_months.to_numpy()
            ),
            "bill_amount_trend": rng.lognormal(0, 0.1, n),
        }
    )


def _channel(t: pd.DataFrame, rng) -> pd.DataFrame:
    n = len(t)
    d = t.digital_affinity.to_numpy()
    # expected yearly interactions per channel as a function of digital affinity
    rates = {
        "app": 30 * d**2,
        "wechat": 15 * d,
        "web": 3 * d,
        "counter": 4 * (1 - d) ** 2,
        "phone_95598": 1.0 + 0 * d,
        "self_service_terminal": 1.5 * (1 - d),
    }
    columns: dict[str, np.ndarray] = {}
    total = np.zeros(n)
    digital_total = np.zeros(n)
    for channel in CHANNELS:
        frequency = rng.poisson(rates[channel])
        used = frequency > 0
        # more interactions → more recent last one
        recency = np.where(used, np.ceil(rng.uniform(0, 365, n) / (1 + frequency)), 366)
        columns[f"{channel}_recency_days"] = recency
        columns[f"{channel}_frequency_12m"] = frequency
        columns[f"{channel}_breadth_12m"] = np.where(
            used, np.minimum(5, 1 + rng.binomial(4, np.clip(frequency / 40, 0, 1))), 0
        )
        total += frequency
        if channel in ("app", "wechat", "web"):
            digital_total += frequency
    columns["channels_used_12m"] = sum(
        (columns[f"{c}_frequency_12m"] > 0).astype(int) for c in CHANNELS
    )
    columns["interactions_12m"] = total
    columns["digital_share_12m"] = np.divide(digital_total, total, out=np.zeros(n), where=total > 0)
    columns["online_payment_share_12m"] = np.clip(d + rng.normal(0, 0.15, n), 0, 1)
    return pd.DataFrame(columns)


def _inspection(t: pd.DataFrame, rng) -> pd.DataFrame:
    n = len(t)
    thief = t.is_thief.to_numpy()
    kwh_prior = 300 * np.exp(t.log_value + rng.normal(0, 0.2, n))
    drop = np.where(thief, rng.uniform(0.25, 0.7, n), rng.normal(0.0, 0.08, n))
    past = rng.poisson(0.3, n)
    data = {
        "customer_type": t.customer_type.to_numpy(),
        "contracted_capacity_kva": np.exp(2 + t.log_value),
        "kwh_3m": 3 * kwh_prior * (1 - drop),
        "kwh_prior_9m_monthly_avg": kwh_prior,
        "consumption_drop_ratio": drop,
        "peer_deviation": rng.normal(0, 0.3, n) - np.where(thief, 0.3, 0.0),
        "zero_read_days_3m": rng.poisson(np.where(thief, 3.0, 0.5)),
        "missing_read_share_3m": rng.beta(1, 30, n),
        "cover_open_12m": rng.poisson(np.where(thief, 1.2, 0.05)),
        "reverse_energy_12m": rng.poisson(np.where(thief, 0.5, 0.02)),
        "phase_loss_12m": rng.poisson(0.1, n),
        "current_imbalance_12m": rng.poisson(np.where(thief, 0.6, 0.1)),
        "clock_error_12m": rng.poisson(0.05, n),
        "power_off_12m": rng.poisson(0.3, n),
        "meter_events_3m": rng.poisson(np.where(thief, 1.0, 0.2)),
        "past_inspections": past,
        "past_positive_inspections": rng.binomial(past, np.where(thief, 0.4, 0.05)),
        "months_since_last_inspection": np.where(past > 0, rng.integers(1, 60, n), np.nan),
    }
    return pd.DataFrame(data)


FACTOR_BUILDERS = {
    "outage_sensitivity": _outage,
    "arrears": _arrears,
    "channel_activity": _channel,
    "inspection": _inspection,
}


def _with_keys(frame: pd.DataFrame, traits: pd.DataFrame, month: str) -> pd.DataFrame:
    keys = pd.DataFrame(
        {"customer_id": traits.customer_id.to_numpy(), "as_of_month": pd.Timestamp(month)}
    )
    return pd.concat([keys, frame.reset_index(drop=True)], axis=1)


def make_marts(
    n: int, seed: int = 0, train_month: str = "2026-04-01", score_month: str = "2026-07-01"
) -> SyntheticMarts:
    rng = np.random.default_rng(seed)
    traits = make_traits(n, rng)
    train: dict[str, pd.DataFrame] = {}
    score: dict[str, pd.DataFrame] = {}
    train["contribution"] = _with_keys(_contribution(traits, rng, 0.0), traits, train_month)
    score["contribution"] = _with_keys(_contribution(traits, rng, 0.02), traits, score_month)
    for factor, builder in FACTOR_BUILDERS.items():
        train[factor] = _with_keys(builder(traits, rng), traits, train_month)
        score[factor] = _with_keys(builder(traits, rng), traits, score_month)

    exposed = rng.random(n) < 0.5
    has_bill = rng.random(n) < 0.97
    suspicious = (train["inspection"]["consumption_drop_ratio"].to_numpy() > 0.2) | (
        train["inspection"]["cover_open_12m"].to_numpy() > 0
    )
    inspected = rng.random(n) < np.where(suspicious, 0.5, 0.08)
    outcomes = pd.DataFrame(
        {
            "customer_id": traits.customer_id.to_numpy(),
            "as_of_month": pd.Timestamp(train_month),
            "outcome_window_closed": True,
            "outage_exposed_next": exposed,
            "outage_contact_72h_next": pd.array(
                np.where(
                    exposed, rng.random(n) < sigmoid(-2 + 1.5 * traits.outage_sensitivity), False
                ),
                dtype="boolean",
            ),
            "bills_due_next": np.where(has_bill, 3, 0),
            "arrears_30d_next": pd.array(
                rng.random(n) < sigmoid(-3.5 + 1.8 * traits.financial_stress), dtype="boolean"
            ),
            "inspected_next": inspected,
            "inspection_positive_next": pd.array(
                rng.random(n) < np.where(traits.is_thief, 0.85, 0.04), dtype="boolean"
            ),
        }
    )
    outcomes.loc[~exposed, "outage_contact_72h_next"] = pd.NA
    outcomes.loc[~has_bill, "arrears_30d_next"] = pd.NA
    outcomes.loc[~inspected, "inspection_positive_next"] = pd.NA
    return SyntheticMarts(traits, train, score, outcomes)
