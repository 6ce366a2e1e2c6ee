"""A sixth factor as a developer would add one: a config, a model and a registry entry (the mart SQL
lives in the test that copies the dbt project). Importable by name, so MLflow can load it back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

from ml.baseline_rules import BaselineRule, rule_input
from ml.champion import PromotionRule
from ml.config import RANDOM_SEED, TierRule
from ml.preprocessing import assign_tiers, fit_tier_thresholds, numeric_matrix
from ml.registry import PROBABILITY_RANGE, SCORE_RANGE, Factor, PublishedColumn, ScoreColumn

MART = "fct_features_late_payer"
MART_SQL = """
select customer_id, as_of_month, late_payments_12m, late_payment_rate_12m, unpaid_bills_at_as_of
from {{ ref('fct_features_arrears') }}
"""
MART_YML = f"""version: 2
models:
  - name: {MART}
    description: Late-payment features of the late-payer factor.
    data_tests:
      - unique_combination:
          arguments:
            columns: [customer_id, as_of_month]
"""


@dataclass(frozen=True)
class LatePayerConfig:
    features: tuple[str, ...] = (
        "late_payments_12m",
        "late_payment_rate_12m",
        "unpaid_bills_at_as_of",
    )
    label: str = "arrears_30d_next"
    tiers: TierRule = TierRule(method="base_rate", high=2.0, medium=1.0)
    n_reasons: int = 3
    top_k_share: float = 0.10
    seed: int = RANDOM_SEED


class LatePayerModel(ClassifierMixin, BaseEstimator):
    """Logistic regression on three late-payment features; score = 100 x probability."""

    def __init__(self, config: LatePayerConfig | None = None):
        self.config = config

    @property
    def resolved_config(self) -> LatePayerConfig:
        return self.config or LatePayerConfig()

    @property
    def input_columns(self) -> list[str]:
        return list(self.resolved_config.features)

    def model_input(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame.loc[:, self.input_columns]

    def _matrix(self, frame: pd.DataFrame) -> np.ndarray:
        return np.nan_to_num(numeric_matrix(frame, self.input_columns), nan=0.0)

    def fit(self, frame: pd.DataFrame, y) -> LatePayerModel:
        labels = np.asarray(y).astype(int)
        self.model_ = LogisticRegression(max_iter=500).fit(self._matrix(frame), labels)
        self.tier_thresholds_ = fit_tier_thresholds(
            None, self.resolved_config.tiers, float(labels.mean())
        )
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return self.model_.predict_proba(self._matrix(frame))

    def score_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        probability = self.predict_proba(frame)[:, 1]
        return pd.DataFrame(
            {
                "probability": probability,
                "score": np.round(100 * probability, 2),
                "tier": assign_tiers(100 * probability, self.tier_thresholds_),
            },
            index=frame.index,
        )


def _late_rule(frame: pd.DataFrame) -> np.ndarray:
    return rule_input(frame, "late_payments_12m") + rule_input(frame, "unpaid_bills_at_as_of")


LATE_PAYER = Factor(
    name="late_payer",
    description="Late payer (logistic regression on late payments).",
    method="logistic regression on late payments",
    config=LatePayerConfig,
    model=LatePayerModel,
    feature_mart=MART,
    required_sources=("bills", "payments"),
    supervised=True,
    promotion=PromotionRule("auc", True),
    score_columns=(
        ScoreColumn("probability", "Float64", range=PROBABILITY_RANGE),
        ScoreColumn("score", "Float64", range=SCORE_RANGE),
        ScoreColumn("tier", "string", says_not_scored=True),
    ),
    published=(
        PublishedColumn("late_payer_score", ("score",), "Late-payer score 0-100."),
        PublishedColumn("late_payer_tier", ("tier",), "high / medium / low."),
    ),
    segment_words=("late-paying", "on-time"),
    pools_closed_months=True,
    baseline=BaselineRule(
        "late bills",
        "late_payments_12m + unpaid_bills_at_as_of",
        ("late_payments_12m", "unpaid_bills_at_as_of"),
        _late_rule,
    ),  # fmt: skip
)
