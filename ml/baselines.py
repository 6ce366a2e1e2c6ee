"""What an analyst would write in one line, for every supervised factor: the bar a model must clear.

Two baselines are scored on the model's own hold-out: the best single feature of its mart
(sign-adjusted) and a transparent rule. The rule is also a scorer: when no model version passes the
quality floors, the factor scores its customers with the rule, calibrated on the same fit rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.isotonic import IsotonicRegression

from ml import metrics as m
from ml.arrears import grades_from_probability, points_from_probability
from ml.baseline_rules import BaselineRule
from ml.preprocessing import (
    TooFewLabels,
    assign_tiers,
    fit_tier_thresholds,
    numeric_matrix,
    top_reasons,
)
from ml.registry import REGISTRY, Registry

RULE_VERSION = "rule"
PROBABILITY_CLIP = 1e-4  # an isotonic step with no positive would give points of ±infinity
# every supervised factor's rule, from its registry entry
RULES: dict[str, BaselineRule] = {f.name: f.baseline for f in REGISTRY if f.baseline is not None}


def rule_model_name(factor: str, registry: Registry = REGISTRY) -> str:
    """What `model_name` says when the rule scored a factor's customers."""
    entry = registry[factor]
    return f"{entry.model_name} rule baseline: {entry.baseline.name}"


def _auc_either_way(y: np.ndarray, score: np.ndarray) -> float:
    if np.ptp(score) == 0:
        return 0.5
    auc = m.roc_auc(y, score)
    return max(auc, 1 - auc)


def baseline_metrics(
    rule: BaselineRule, features: pd.DataFrame, labels: np.ndarray, candidate_columns
) -> tuple[dict[str, float], dict[str, str]]:
    """(metrics, params): the rule's hold-out AUC and the best single feature's, sign-adjusted.

    A NULL feature counts as its median; a constant one as 0.5. The best feature is picked on the
    hold-out itself, so it is an optimistic bar.
    """
    y = np.asarray(labels).astype(bool)
    if y.all() or not y.any():
        nan = float("nan")
        return {"baseline_rule_auc": nan, "baseline_best_feature_auc": nan}, {}
    matrix = numeric_matrix(features, list(candidate_columns))
    best_name, best_auc = "", 0.5
    for i, name in enumerate(candidate_columns):  # a loop over features, not customers
        column = matrix[:, i]
        if np.isnan(column).all():
            continue
        column = np.where(np.isnan(column), np.nanmedian(column), column)
        auc = _auc_either_way(y, column)
        if auc > best_auc:
            best_name, best_auc = name, auc
    rule_score = rule.score(features)
    rule_auc = m.roc_auc(y, rule_score) if np.ptp(rule_score) > 0 else 0.5
    return (
        {"baseline_rule_auc": rule_auc, "baseline_best_feature_auc": best_auc},
        {"baseline_rule": rule.formula, "baseline_best_feature": best_name or "none"},
    )


class RuleBaselineModel(ClassifierMixin, BaseEstimator):
    """A factor's rule as a scorer: the rule value, calibrated to a probability by isotonic
    regression on the fit rows, with the factor's tiers (and its points and grade where its
    score table has them).

    It writes exactly the columns of the factor's score table; its reasons quote the rule's inputs.
    """

    def __init__(self, factor: str, config=None, registry: Registry = REGISTRY):
        self.factor = factor
        self.config = config
        self.registry = registry

    @property
    def rule(self) -> BaselineRule:
        return self.registry[self.factor].baseline

    @property
    def input_columns(self) -> list[str]:
        return list(self.rule.columns)

    def fit(self, frame: pd.DataFrame, y) -> RuleBaselineModel:
        labels = np.asarray(y).astype(int)
        if np.unique(labels).size < 2:
            raise TooFewLabels(f"the {self.factor} rule needs both positive and negative labels")
        self.calibrator_ = IsotonicRegression(
            y_min=PROBABILITY_CLIP, y_max=1 - PROBABILITY_CLIP, out_of_bounds="clip"
        ).fit(self.rule.score(frame), labels)
        self.base_rate_ = float(labels.mean())
        self.tier_thresholds_ = fit_tier_thresholds(None, self.config.tiers, self.base_rate_)
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        p = self.calibrator_.predict(self.rule.score(frame))
        return np.column_stack([1 - p, p])

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(frame)[:, 1] >= 0.5).astype(int)

    def _reasons(self, frame: pd.DataFrame, n_reasons: int) -> np.ndarray:
        columns = self.input_columns
        values = np.nan_to_num(numeric_matrix(frame, columns), nan=0.0)
        texts = np.column_stack(
            [
                (f"{name} = " + pd.Series(values[:, i]).round(2).astype(str)).to_numpy(object)
                for i, name in enumerate(columns)
            ]
        )
        # a rule input explains a customer's risk when it is above zero, the earlier input first
        order_weight = np.arange(len(columns), 0, -1, dtype="float64")
        return top_reasons((values > 0) * order_weight, texts, n_reasons)

    def _rule_text(self, frame: pd.DataFrame) -> np.ndarray:
        """`rule: meter_events_3m = 2 AND consumption_drop_ratio = 0.41`, the inputs above 0."""
        values = np.nan_to_num(numeric_matrix(frame, self.input_columns), nan=0.0)
        text = pd.Series("", index=range(len(frame)), dtype=object)
        for i, name in enumerate(self.input_columns):  # a loop over the rule's inputs
            part = (f"{name} = " + pd.Series(values[:, i]).round(2).astype(str)).where(
                values[:, i] > 0, ""
            )
            joiner = np.where((text != "") & (part != ""), " AND ", "")
            text = text + joiner + part
        return ("rule: " + text.where(text != "", "no rule input above 0")).to_numpy(object)

    def score_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        probability = self.predict_proba(frame)[:, 1]
        out = pd.DataFrame(
            {"probability": probability, "score": np.round(100 * probability, 2)},
            index=frame.index,
        )
        cfg = self.config
        columns = self.registry[self.factor].score_dtypes()
        if "points" in columns:
            out["points"] = np.round(
                points_from_probability(probability, cfg.base_points, cfg.base_odds, cfg.pdo), 1
            )
        if "grade" in columns:
            out["grade"] = grades_from_probability(probability, cfg.grade_max_pd)
        out["tier"] = assign_tiers(100 * probability, self.tier_thresholds_)
        if "reason" in columns:  # one rule path, like a tree's
            out["reason"] = self._rule_text(frame)
        elif "reason_1" in columns:
            reasons = self._reasons(frame, cfg.n_reasons)
            for i in range(reasons.shape[1]):
                out[f"reason_{i + 1}"] = reasons[:, i]
        return out
