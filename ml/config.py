"""Every default of the factor models in one place: features, tiers, scorecard scaling, seeds.

A caller overrides a factor with `resolve_config(factor, {...})` (ml/registry.py) or by passing its
own dataclass.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from powerseg.contract import INTERACTION_ACTIONS, INTERACTION_CHANNELS
from powerseg.dbt_vars import dbt_var

RANDOM_SEED = 20261001


@dataclass(frozen=True)
class TierRule:
    """How a 0-100 score becomes high / medium / low.

    `method="quantile"`: `high` and `medium` are population shares (0.10, 0.20 = top 10 % high,
    the next 20 % medium), turned into score thresholds on the training data at fit time so that
    scoring a later month uses fixed thresholds. `method="cutoff"`: `high` and `medium` are score
    thresholds (score >= high is high). `method="base_rate"` (the supervised factors): `high` and
    `medium` are multiples of the training base rate that a calibrated probability must reach
    (2.0, 1.0 = high at twice the base rate or more, medium from the base rate), so "high risk"
    means a risk well above the average customer's, whatever share of customers that is.
    """

    method: Literal["quantile", "cutoff", "base_rate"] = "quantile"
    high: float = 0.10
    medium: float = 0.20

    def __post_init__(self) -> None:
        if self.method not in ("quantile", "cutoff", "base_rate"):
            raise ValueError(
                f"tier method must be 'quantile', 'cutoff' or 'base_rate', got {self.method!r}"
            )
        if self.method == "base_rate" and not self.high >= self.medium > 0:
            raise ValueError("base-rate tier multiples need high >= medium > 0")
        shares_valid = self.high > 0 and self.medium >= 0 and self.high + self.medium <= 1
        if self.method == "quantile" and not shares_valid:
            raise ValueError("quantile tier shares must be positive and sum to at most 1")
        if self.method == "cutoff" and not self.high >= self.medium:
            raise ValueError("cutoff tier thresholds need high >= medium")


@dataclass(frozen=True)
class TrainingConfig:
    holdout_share: float = 0.25
    seed: int = RANDOM_SEED
    # fct_outcomes looks this many months past the as-of month: the dbt var, read from dbt
    outcome_months: int = field(default_factory=lambda: dbt_var("outcome_months"))
    # Below these a supervised factor is skipped for the month (too few labels), not failed.
    min_training_rows: int = 8
    min_positives_per_side: int = 1
    # Quality floors a supervised model must pass to become champion (see ml/tracking.py): a
    # hold-out AUC above min_auc, not below the rule baseline, not below the best single feature
    # beyond the noise of its bootstrap interval, and a hold-out with enough positives to tell.
    min_auc: float = 0.55
    min_holdout_positives: int = 30
    auc_interval_level: float = 0.90
    bootstrap_rounds: int = 200


@dataclass(frozen=True)
class ContributionConfig:
    features: tuple[str, ...] = (
        "revenue_12m_cny",
        "kwh_12m",
        "unit_price_cny_per_kwh",
        "kwh_growth_ratio",
        "load_factor",
        "capacity_utilisation",
        "tenure_months",
        "on_time_payment_rate_12m",
    )
    # revenue and kWh span orders of magnitude between households and factories
    log_features: tuple[str, ...] = ("revenue_12m_cny", "kwh_12m")
    # value is mostly money and volume; the other indicators refine the level, not drive it
    feature_weights: dict[str, float] = field(
        default_factory=lambda: {
            "revenue_12m_cny": 3.0,
            "kwh_12m": 2.0,
            "unit_price_cny_per_kwh": 1.0,
            "kwh_growth_ratio": 0.5,
            "load_factor": 0.5,
            "capacity_utilisation": 0.5,
            "tenure_months": 0.5,
            "on_time_payment_rate_12m": 0.5,
        }
    )
    value_feature: str = "revenue_12m_cny"  # orders the levels: level c = highest centroid value
    n_levels: int = 5
    fuzziness: float = 2.0  # the FCM exponent m
    max_iter: int = 300
    tol: float = 1e-4  # largest membership change that still counts as converged
    n_init: int = 3
    # centres are fitted on a seeded sample this large (the memberships of everyone follow from
    # them); 30k rows pin five centres in eight dimensions down far below the noise
    fit_sample_rows: int = 30000
    # primary metric = fpc_weight * normalised FPC + (1 - fpc_weight) * Spearman(score, revenue)
    fpc_weight: float = 0.5
    tiers: TierRule = TierRule(method="cutoff", high=70.0, medium=40.0)
    silhouette_sample: int = 5000
    seed: int = RANDOM_SEED


@dataclass(frozen=True)
class OutageSensitivityConfig:
    features: tuple[str, ...] = (
        "outages_experienced_12m",
        "unplanned_outages_12m",
        "outage_minutes_12m",
        "outage_contacts_72h_12m",
        "outage_contact_rate_12m",
        "complaints_12m",
        "fault_reports_12m",
        "tickets_12m",
        "reliability_gap",
        "is_important",
        "is_business",
        "contracted_capacity_kva",
        "kwh_12m",
    )
    log_features: tuple[str, ...] = (
        "outages_experienced_12m",
        "unplanned_outages_12m",
        "outage_minutes_12m",
        "outage_contacts_72h_12m",
        "complaints_12m",
        "fault_reports_12m",
        "tickets_12m",
        "contracted_capacity_kva",
        "kwh_12m",
    )
    label: str = "outage_contact_72h_next"
    regularisation_c: float = 1.0
    class_weight: str | None = None  # "balanced" trades calibrated probabilities for recall
    n_reasons: int = 3
    # high = at least twice the base rate of outage contacts, medium = above the base rate
    tiers: TierRule = TierRule(method="base_rate", high=2.0, medium=1.0)
    top_k_share: float = 0.10  # precision@k reported on the top 10 % of the hold-out
    seed: int = RANDOM_SEED


@dataclass(frozen=True)
class ArrearsConfig:
    numeric_features: tuple[str, ...] = (
        "tenure_months",
        "bills_12m",
        "avg_bill_cny",
        "late_payments_12m",
        "late_payment_rate_12m",
        "avg_days_late_12m",
        "max_days_late_12m",
        "partial_payments_12m",
        "unpaid_bills_at_as_of",
        "unpaid_amount_at_as_of_cny",
        "auto_debit_share_12m",
        "months_since_last_late",
        "bill_amount_trend",
    )
    categorical_features: tuple[str, ...] = ("customer_type", "tariff")
    # Event rate (arrears) direction where credit practice knows it; "auto_asc_desc" elsewhere.
    monotonic_trends: dict[str, str] = field(
        default_factory=lambda: {
            "late_payments_12m": "ascending",
            "late_payment_rate_12m": "ascending",
            "avg_days_late_12m": "ascending",
            "max_days_late_12m": "ascending",
            "partial_payments_12m": "ascending",
            "unpaid_bills_at_as_of": "ascending",
            "unpaid_amount_at_as_of_cny": "ascending",
            "auto_debit_share_12m": "descending",
            "months_since_last_late": "descending",
        }
    )
    label: str = "arrears_30d_next"
    max_n_bins: int = 6
    min_bin_size: float = 0.03
    min_iv: float = 0.02  # features below this information value are left out of the model
    regularisation_c: float = 1.0
    base_points: float = 600.0
    base_odds: float = 50.0  # good:bad odds at base_points
    pdo: float = 20.0  # points to double the odds
    # grade = first letter whose upper bound the calibrated probability of arrears stays below
    # (A best): fixed PD bands, so a grade means the same risk in every month and every utility
    grade_max_pd: dict[str, float] = field(
        default_factory=lambda: {"A": 0.03, "B": 0.08, "C": 0.15, "D": 0.30, "E": 1.0}
    )
    # the tier is the probability against the base rate: high = at least twice it
    tiers: TierRule = TierRule(method="base_rate", high=2.0, medium=1.0)
    n_reasons: int = 3
    top_k_share: float = 0.10  # precision@k reported on the riskiest 10 % of the hold-out
    seed: int = RANDOM_SEED


# the interaction channels of the source contract; the digital ones are self-service online
CHANNELS = INTERACTION_CHANNELS
DIGITAL_CHANNELS = ("app", "wechat", "web")


@dataclass(frozen=True)
class ChannelActivityConfig:
    channels: tuple[str, ...] = CHANNELS
    digital_channels: tuple[str, ...] = DIGITAL_CHANNELS
    # None = entropy-weight method on the data; a dict {channel: weight} overrides it
    channel_weights: dict[str, float] | None = None
    # how recency, frequency and breadth combine into one channel's activity (normalised to 1)
    component_weights: dict[str, float] = field(
        default_factory=lambda: {"recency": 1.0, "frequency": 1.0, "breadth": 1.0}
    )
    recency_horizon_days: float = 365.0  # the mart writes 366 when a channel was not used in 12 m
    n_actions: int = len(INTERACTION_ACTIONS)  # distinct interaction actions in the contract
    frequency_cap_quantile: float = 0.99  # frequency at or above this (per channel) counts as 1
    # digital share = mean of the digital share of channel activity and of the online payment
    # share (a customer who pays by Alipay but never opens the app is still digital); None = the
    # channel activity share alone
    online_payment_column: str | None = "online_payment_share_12m"
    digital_first_min_share: float = 0.6
    offline_max_share: float = 0.3
    tiers: TierRule = TierRule(method="quantile", high=0.20, medium=0.30)
    seed: int = RANDOM_SEED


@dataclass(frozen=True)
class InspectionConfig:
    numeric_features: tuple[str, ...] = (
        "contracted_capacity_kva",
        "kwh_3m",
        "kwh_prior_9m_monthly_avg",
        "consumption_drop_ratio",
        "peer_deviation",
        "zero_read_days_3m",
        "missing_read_share_3m",
        "cover_open_12m",
        "reverse_energy_12m",
        "phase_loss_12m",
        "current_imbalance_12m",
        "clock_error_12m",
        "power_off_12m",
        "meter_events_3m",
        "past_inspections",
        "past_positive_inspections",
        "months_since_last_inspection",
    )
    categorical_features: tuple[str, ...] = ("customer_type",)
    # months_since_last_inspection is NULL for never-inspected customers: "a very long time"
    fill_values: dict[str, float] = field(
        default_factory=lambda: {"months_since_last_inspection": 999.0}
    )
    label: str = "inspection_positive_next"
    model_type: Literal["tree", "hist_gradient_boosting"] = "tree"
    max_depth: int = 4
    min_samples_leaf: int = 30
    # with few inspected customers (a small district, a pilot) 30 rows per leaf would forbid
    # every split, so the leaf minimum is capped at this share of the training rows (at least 2)
    min_samples_leaf_share: float = 0.05
    class_weight: str | None = "balanced"
    # gradient-boosting challenger settings (model_type="hist_gradient_boosting")
    hgb_max_iter: int = 200
    hgb_learning_rate: float = 0.05
    hgb_max_leaf_nodes: int = 15
    threshold_digits: int = 4  # significant digits of thresholds in the rule text
    # high = at least twice the inspected base rate of findings (the inspection list), medium =
    # above it (watch remotely)
    tiers: TierRule = TierRule(method="base_rate", high=2.0, medium=1.0)
    top_k_share: float = 0.10  # the inspection list: top 10 % of the hold-out by risk
    seed: int = RANDOM_SEED


def config_as_params(config: Any, prefix: str = "") -> dict[str, str]:
    """Flatten a config dataclass into MLflow-loggable string params."""
    params: dict[str, str] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            params.update(config_as_params(value, prefix=f"{key}."))
        elif isinstance(value, tuple):
            params[key] = ",".join(str(v) for v in value)
        else:
            params[key] = str(value)
    return params
