"""Outage sensitivity: logistic regression for P(outage complaint within 72 h of an outage).

Reasons are the features that push a customer's log-odds up the most (coefficient × standardised
value, i.e. relative to the average customer), written as readable codes like `high_tickets_12m`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin
from sklearn.linear_model import LogisticRegression

from ml.config import OutageSensitivityConfig
from ml.estimator import FactorEstimator
from ml.preprocessing import (
    Standardiser,
    TooFewLabels,
    assign_tiers,
    fit_tier_thresholds,
    numeric_matrix,
    top_reasons,
)


class OutageSensitivityModel(ClassifierMixin, FactorEstimator):
    """Standardised features → LogisticRegression; per-customer reasons from coef × z.

    Fitted attributes: `standardiser_`, `classifier_`, `coefficients_` (a DataFrame of feature,
    coefficient for logging), `tier_thresholds_` (score thresholds of high and medium).
    """

    config_class = OutageSensitivityConfig

    def fit(self, frame: pd.DataFrame, y) -> OutageSensitivityModel:
        cfg = self.resolved_config
        labels = np.asarray(y).astype(int)
        if np.unique(labels).size < 2:
            raise TooFewLabels("outage sensitivity needs both positive and negative labels")
        self.standardiser_ = Standardiser(cfg.features, cfg.log_features).fit(frame)
        self.classifier_ = LogisticRegression(
            C=cfg.regularisation_c, class_weight=cfg.class_weight, max_iter=1000
        ).fit(self.standardiser_.transform(frame), labels)
        self.classes_ = self.classifier_.classes_
        self.feature_names_ = np.array(self.standardiser_.output_names, dtype=object)
        self.high_codes_, self.low_codes_ = self._reason_code_names(frame)
        self.coefficients_ = pd.DataFrame(
            {"feature": self.feature_names_, "coefficient": self.classifier_.coef_[0]}
        )
        self.base_rate_ = float(labels.mean())
        self.tier_thresholds_ = fit_tier_thresholds(
            100 * self.predict_proba(frame)[:, 1], cfg.tiers, self.base_rate_
        )
        return self

    def _reason_code_names(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Code per model column for a customer above (high) and below (low) the average."""
        features = list(self.resolved_config.features)
        values = numeric_matrix(frame, features)
        high, low = [], []
        for i, name in enumerate(features):
            observed = values[:, i][~np.isnan(values[:, i])]
            if np.isin(observed, (0.0, 1.0)).all():  # a flag reads better without high/low
                high.append(name)
                low.append(f"not_{name}")
            else:
                high.append(f"high_{name}")
                low.append(f"low_{name}")
        # missing-value indicators are 0/1 and only push the odds when they are 1
        for name in self.feature_names_[len(features) :]:
            high.append(f"missing_{name.removesuffix('_missing')}")
            low.append(f"recorded_{name.removesuffix('_missing')}")
        return np.array(high, dtype=object), np.array(low, dtype=object)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return self.classifier_.predict_proba(self.standardiser_.transform(frame))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(frame)[:, 1] >= 0.5).astype(int)

    def contributions(self, frame: pd.DataFrame) -> np.ndarray:
        """Each feature's share of the log-odds relative to the average customer: coef × z."""
        return self.standardiser_.transform(frame) * self.classifier_.coef_[0]

    def reason_codes(self, frame: pd.DataFrame) -> np.ndarray:
        """Per customer, up to n_reasons codes: `high_x` / `low_x` for a value above / below
        average, `x` / `not_x` for a yes/no flag, `missing_x` when x was not recorded."""
        standardised = self.standardiser_.transform(frame)
        contributions = standardised * self.classifier_.coef_[0]
        names = np.where(standardised >= 0, self.high_codes_[None, :], self.low_codes_[None, :])
        return top_reasons(contributions, names, self.resolved_config.n_reasons)

    def score_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        probability = self.predict_proba(frame)[:, 1]
        score = 100 * probability
        out = pd.DataFrame(
            {
                "probability": probability,
                "score": np.round(score, 2),
                "tier": assign_tiers(score, self.tier_thresholds_),
            },
            index=frame.index,
        )
        reasons = self.reason_codes(frame)
        for i in range(reasons.shape[1]):
            out[f"reason_{i + 1}"] = reasons[:, i]
        return out
