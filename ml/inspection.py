"""Inspection (theft) risk: a depth-limited decision tree whose rules read as text.

Every customer's reason is the rule path of its leaf (`consumption_drop_ratio > 0.31 AND
cover_open_12m > 0.5`); a gradient-boosting challenger can supply the probability instead.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.tree import DecisionTreeClassifier, export_text

from ml.config import InspectionConfig
from ml.estimator import FactorEstimator
from ml.preprocessing import (
    TooFewLabels,
    assign_tiers,
    fit_tier_thresholds,
    numeric_matrix,
    one_hot,
    require_columns,
)

ALL_CUSTOMERS_RULE = "all customers"
ONE_HOT_SEPARATOR = "="


def format_threshold(value: float, significant_digits: int) -> str:
    """Readable, never scientific; large numbers keep all their integer digits."""
    integer_digits = len(str(int(abs(value)))) if abs(value) >= 1 else 0
    digits = max(significant_digits, integer_digits + 1)
    return np.format_float_positional(
        value, precision=digits, unique=False, fractional=False, trim="-"
    )


def leaf_rule_paths(
    tree: DecisionTreeClassifier, feature_names: list[str], significant_digits: int = 4
) -> dict[int, str]:
    """The rule path of every leaf (node id → text), walking the tree's nodes, not the rows.

    Repeated splits on one feature collapse to the tightest bound; a one-hot column
    `customer_type=industrial` reads `customer_type = industrial` or `customer_type != industrial`.
    """
    structure = tree.tree_
    paths: dict[int, str] = {}
    # each stack entry: node id, conditions so far as (feature index, is_greater, threshold)
    stack: list[tuple[int, list[tuple[int, bool, float]]]] = [(0, [])]
    while stack:
        node, conditions = stack.pop()
        left, right = structure.children_left[node], structure.children_right[node]
        if left == right:  # a leaf
            paths[node] = _render_conditions(conditions, feature_names, significant_digits)
            continue
        feature, threshold = int(structure.feature[node]), float(structure.threshold[node])
        stack.append((left, [*conditions, (feature, False, threshold)]))
        stack.append((right, [*conditions, (feature, True, threshold)]))
    return paths


def _render_conditions(
    conditions: list[tuple[int, bool, float]], feature_names: list[str], digits: int
) -> str:
    if not conditions:
        return ALL_CUSTOMERS_RULE
    lower: dict[int, float] = {}
    upper: dict[int, float] = {}
    order: list[int] = []
    for feature, is_greater, threshold in conditions:
        if feature not in order:
            order.append(feature)
        if is_greater:
            lower[feature] = max(threshold, lower.get(feature, -np.inf))
        else:
            upper[feature] = min(threshold, upper.get(feature, np.inf))
    parts = []
    for feature in order:
        name = feature_names[feature]
        if ONE_HOT_SEPARATOR in name:
            column, category = name.split(ONE_HOT_SEPARATOR, 1)
            # a 0/1 column split at 0.5: > means the category, <= means any other
            parts.append(f"{column} {'=' if feature in lower else '!='} {category}")
            continue
        if feature in lower:
            parts.append(f"{name} > {format_threshold(lower[feature], digits)}")
        if feature in upper:
            parts.append(f"{name} <= {format_threshold(upper[feature], digits)}")
    return " AND ".join(parts)


class InspectionRiskModel(ClassifierMixin, FactorEstimator):
    """P(an inspection finds theft or violation), trained on inspected customers only.

    With class_weight="balanced" the raw leaf proportions are re-weighted; `predict_proba`
    undoes that with the exact prior correction odds × (w_negative / w_positive), so the
    probability is again the inspected base rate's scale. Fitted attributes: `tree_model_`,
    `booster_` (gradient boosting, or None), `feature_names_`, `rules_text_` (export_text),
    `leaf_rules_` (leaf id, rule, training rows, positive rate, probability), `tier_thresholds_`.
    """

    config_class = InspectionConfig
    frame_name = "inspection feature frame"

    def _matrix(self, frame: pd.DataFrame) -> np.ndarray:
        cfg = self.resolved_config
        numeric = numeric_matrix(frame, cfg.numeric_features)
        fills = np.array([cfg.fill_values.get(f, 0.0) for f in cfg.numeric_features])
        numeric = np.where(np.isnan(numeric), fills, numeric)
        encoded = [one_hot(frame, c, self.categories_[c]) for c in cfg.categorical_features]
        return np.column_stack([numeric, *encoded]) if encoded else numeric

    def fit(self, frame: pd.DataFrame, y) -> InspectionRiskModel:
        cfg = self.resolved_config
        require_columns(frame, self.input_columns, "inspection feature frame")
        labels = np.asarray(y).astype(int)
        if np.unique(labels).size < 2:
            raise TooFewLabels("the inspection model needs both positive and negative labels")
        self.categories_ = {
            c: sorted(frame[c].dropna().astype(str).unique().tolist())
            for c in cfg.categorical_features
        }
        self.feature_names_ = list(cfg.numeric_features) + [
            f"{c}{ONE_HOT_SEPARATOR}{v}"
            for c in cfg.categorical_features
            for v in self.categories_[c]
        ]
        x = self._matrix(frame)
        self.min_samples_leaf_ = max(
            2, min(cfg.min_samples_leaf, math.ceil(cfg.min_samples_leaf_share * len(labels)))
        )
        self.tree_model_ = DecisionTreeClassifier(
            max_depth=cfg.max_depth,
            min_samples_leaf=self.min_samples_leaf_,
            class_weight=cfg.class_weight,
            random_state=cfg.seed,
        ).fit(x, labels)
        self.booster_ = None
        if cfg.model_type == "hist_gradient_boosting":
            self.booster_ = HistGradientBoostingClassifier(
                max_iter=cfg.hgb_max_iter,
                learning_rate=cfg.hgb_learning_rate,
                max_leaf_nodes=cfg.hgb_max_leaf_nodes,
                class_weight=cfg.class_weight,
                random_state=cfg.seed,
            ).fit(x, labels)
        elif cfg.model_type != "tree":
            raise ValueError(
                f"model_type must be 'tree' or 'hist_gradient_boosting', got {cfg.model_type!r}"
            )
        self.classes_ = self.tree_model_.classes_
        n_positive, n_negative = labels.sum(), labels.size - labels.sum()
        if cfg.class_weight == "balanced":
            # balanced weights are n / (2 n_class); their ratio w_neg / w_pos = n_pos / n_neg
            self.odds_correction_ = float(n_positive / n_negative)
        elif cfg.class_weight is None:
            self.odds_correction_ = 1.0
        else:
            raise ValueError("class_weight must be None or 'balanced'")
        self.rules_text_ = export_text(
            self.tree_model_,
            feature_names=self.feature_names_,
            decimals=cfg.threshold_digits,
            show_weights=True,
        )
        self._leaf_rules = leaf_rule_paths(
            self.tree_model_, self.feature_names_, cfg.threshold_digits
        )
        leaves = self.tree_model_.apply(x)
        probability = self.predict_proba(frame)[:, 1]
        leaf_stats = (
            pd.DataFrame(
                {
                    "leaf_id": leaves,
                    "label": labels,
                    "tree_probability": self._corrected(self.tree_model_.predict_proba(x)[:, 1]),
                }
            )
            .groupby("leaf_id")
            .agg(
                training_rows=("label", "size"),
                positive_rate=("label", "mean"),
                probability=("tree_probability", "first"),
            )
            .reset_index()
        )
        leaf_stats.insert(1, "rule", leaf_stats["leaf_id"].map(self._leaf_rules))
        self.leaf_rules_ = leaf_stats.sort_values("probability", ascending=False, ignore_index=True)
        self.base_rate_ = float(labels.mean())
        self.tier_thresholds_ = fit_tier_thresholds(100 * probability, cfg.tiers, self.base_rate_)
        return self

    def _corrected(self, weighted_probability: np.ndarray) -> np.ndarray:
        p = np.clip(weighted_probability, 0.0, 1.0)
        odds = p * self.odds_correction_
        return odds / (odds + (1 - p))

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        x = self._matrix(frame)
        model = self.booster_ if self.booster_ is not None else self.tree_model_
        p = self._corrected(model.predict_proba(x)[:, 1])
        return np.column_stack([1 - p, p])

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(frame)[:, 1] >= 0.5).astype(int)

    def rule_paths(self, frame: pd.DataFrame) -> np.ndarray:
        """Each customer's leaf rule: `apply` gives the leaf, a per-leaf lookup gives the text."""
        leaves = self.tree_model_.apply(self._matrix(frame))
        leaf_ids = np.array(sorted(self._leaf_rules))
        texts = np.array([self._leaf_rules[i] for i in leaf_ids], dtype=object)
        return texts[np.searchsorted(leaf_ids, leaves)]

    def score_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        probability = self.predict_proba(frame)[:, 1]
        score = 100 * probability
        return pd.DataFrame(
            {
                "probability": probability,
                "score": np.round(score, 2),
                "tier": assign_tiers(score, self.tier_thresholds_),
                "reason": self.rule_paths(frame),
            },
            index=frame.index,
        )
