"""Arrears risk: a credit scorecard (optimal WoE binning + logistic regression) scaled to points.

Points follow the usual convention: good:bad odds of `base_odds` at `base_points`, and every `pdo`
points double the odds. Reasons are the bins that cost a customer the most points.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin
from sklearn.linear_model import LogisticRegression

from ml.config import ArrearsConfig
from ml.estimator import FactorEstimator
from ml.preprocessing import (
    TooFewLabels,
    assign_tiers,
    fit_tier_thresholds,
    top_reasons,
)

MIN_POINTS_LOST = 0.5  # a bin costing less than half a point is not worth telling a customer


def scaling_constants(base_points: float, base_odds: float, pdo: float) -> tuple[float, float]:
    """(factor, offset) with points = offset + factor · ln(good:bad odds)."""
    factor = pdo / math.log(2)
    offset = base_points - factor * math.log(base_odds)
    return factor, offset


def points_from_probability(
    probability_bad, base_points: float = 600.0, base_odds: float = 50.0, pdo: float = 20.0
) -> np.ndarray:
    factor, offset = scaling_constants(base_points, base_odds, pdo)
    p = np.clip(np.asarray(probability_bad, dtype="float64"), 1e-15, 1 - 1e-15)
    return offset + factor * np.log((1 - p) / p)


def probability_from_points(
    points, base_points: float = 600.0, base_odds: float = 50.0, pdo: float = 20.0
) -> np.ndarray:
    factor, offset = scaling_constants(base_points, base_odds, pdo)
    odds_good = np.exp((np.asarray(points, dtype="float64") - offset) / factor)
    return 1 / (1 + odds_good)


def grades_from_probability(probability, grade_max_pd: dict[str, float]) -> np.ndarray:
    """The first grade (best first) whose upper PD bound the probability stays below; the
    worst grade takes the rest."""
    letters = sorted(grade_max_pd, key=grade_max_pd.get)
    p = np.asarray(probability, dtype="float64")
    conditions = [p < grade_max_pd[letter] for letter in letters[:-1]]
    return np.select(conditions, letters[:-1], default=letters[-1]).astype(object)


def _binning_process(cfg: ArrearsConfig, features: list[str]):
    # optbinning imports cvxpy, which prints a harmless HiGHS warning; keep it out of module import
    from optbinning import BinningProcess

    return BinningProcess(
        variable_names=features,
        categorical_variables=list(cfg.categorical_features),
        max_n_bins=cfg.max_n_bins,
        min_bin_size=cfg.min_bin_size,
        binning_fit_params={
            f: {"monotonic_trend": cfg.monotonic_trends.get(f, "auto_asc_desc")}
            for f in cfg.numeric_features
        },
    )


class ArrearsScorecard(ClassifierMixin, FactorEstimator):
    """Scorecard for P(a bill is still unpaid 30 days after its due date in the next 3 months).

    Fitted attributes: `binning_process_`, `selected_features_` (IV ≥ min_iv and a coefficient
    with the credit-sensible sign), `classifier_` (logistic regression on WoE),
    `scorecard_` (feature, bin, count, event rate, WoE, points — one row per bin incl. Missing),
    `information_values_`.
    """

    config_class = ArrearsConfig
    frame_name = "arrears feature frame"

    def fit(self, frame: pd.DataFrame, y) -> ArrearsScorecard:
        cfg = self.resolved_config
        labels = np.asarray(y).astype(int)
        if np.unique(labels).size < 2:
            raise TooFewLabels("the arrears scorecard needs both positive and negative labels")
        data = self.model_input(frame)
        features = self.input_columns
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # optbinning warns about pure bins it handles
            self.binning_process_ = _binning_process(cfg, features).fit(data, labels)
        summary = self.binning_process_.summary().set_index("name")
        self.information_values_ = {f: float(summary.loc[f, "iv"]) for f in features}
        candidates = [f for f in features if self.information_values_[f] >= cfg.min_iv]
        if not candidates:
            raise ValueError(
                f"no arrears feature reaches information value {cfg.min_iv}; nothing to score on"
            )
        indices = {f: self._bin_indices(data, f) for f in candidates}
        self._bin_woe = {f: self._woe_table(f) for f in candidates}
        # A WoE feature whose coefficient has the wrong sign (more WoE = more arrears) is
        # collinear with others and would make its points run backwards; drop it and refit.
        selected = list(candidates)
        while True:
            woe = np.column_stack([self._bin_woe[f][indices[f]] for f in selected])
            classifier = LogisticRegression(C=cfg.regularisation_c, max_iter=1000)
            classifier.fit(woe, labels)
            wrong_sign = classifier.coef_[0] > 0
            if not wrong_sign.any() or len(selected) == 1:
                break
            selected.pop(int(np.argmax(classifier.coef_[0])))
        self.selected_features_ = selected
        self.classifier_ = classifier
        self.classes_ = classifier.classes_
        self._build_points_tables()
        self.base_rate_ = float(labels.mean())
        self.tier_thresholds_ = fit_tier_thresholds(None, cfg.tiers, self.base_rate_)
        return self

    def _bin_indices(self, data: pd.DataFrame, feature: str) -> np.ndarray:
        """Row of the binning table per customer; -1 = a category never seen in training."""
        binned = self.binning_process_.get_binned_variable(feature)
        values = data[feature].to_numpy()
        return binned.transform(
            values, metric="indices", metric_missing="empirical", metric_special="empirical"
        ).astype(int)

    def _table(self, feature: str) -> pd.DataFrame:
        table = self.binning_process_.get_binned_variable(feature).binning_table.build()
        return table.iloc[:-1].reset_index(drop=True)  # drop the Totals row

    def _woe_table(self, feature: str) -> np.ndarray:
        """WoE per binning-table row plus a trailing 0 for unseen categories (index -1)."""
        woe = pd.to_numeric(self._table(feature)["WoE"], errors="coerce").fillna(0.0)
        return np.r_[woe.to_numpy(dtype="float64"), 0.0]

    def _build_points_tables(self) -> None:
        cfg = self.resolved_config
        factor, offset = scaling_constants(cfg.base_points, cfg.base_odds, cfg.pdo)
        intercept = float(self.classifier_.intercept_[0])
        n_features = len(self.selected_features_)
        self._bin_points: dict[str, np.ndarray] = {}
        self._bin_text: dict[str, np.ndarray] = {}
        self._points_lost: dict[str, np.ndarray] = {}
        rows = []
        for coefficient, feature in zip(
            self.classifier_.coef_[0], self.selected_features_, strict=True
        ):
            table = self._table(feature)
            woe = self._bin_woe[feature]
            # points = offset − factor·logit, the intercept and offset shared out evenly
            points = offset / n_features - factor * (coefficient * woe + intercept / n_features)
            bins = table["Bin"].astype(str).to_numpy()
            text = np.array(
                [f"{feature} is missing" if b == "Missing" else f"{feature} in {b}" for b in bins]
                + [f"{feature} is an unseen category"],
                dtype=object,
            )
            counts = np.r_[table["Count"].to_numpy(dtype="float64"), 0.0]
            best = points[counts > 0].max()
            self._bin_points[feature] = points
            self._bin_text[feature] = text
            self._points_lost[feature] = best - points
            for i, b in enumerate(bins):
                rows.append(
                    {
                        "feature": feature,
                        "bin": b,
                        "count": int(counts[i]),
                        "event_rate": float(
                            pd.to_numeric(table["Event rate"], errors="coerce").fillna(0.0).iloc[i]
                        ),
                        "woe": float(woe[i]),
                        "coefficient": float(coefficient),
                        "points": float(points[i]),
                    }
                )
        self.scorecard_ = pd.DataFrame(rows)

    def _feature_indices(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        data = self.model_input(frame)
        return {f: self._bin_indices(data, f) for f in self.selected_features_}

    def decision_function(self, frame: pd.DataFrame) -> np.ndarray:
        """log-odds of arrears."""
        indices = self._feature_indices(frame)
        woe = np.column_stack([self._bin_woe[f][indices[f]] for f in self.selected_features_])
        return self.classifier_.decision_function(woe)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        p = 1 / (1 + np.exp(-self.decision_function(frame)))
        return np.column_stack([1 - p, p])

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(frame)[:, 1] >= 0.5).astype(int)

    def points(self, frame: pd.DataFrame) -> np.ndarray:
        indices = self._feature_indices(frame)
        return np.sum([self._bin_points[f][indices[f]] for f in self.selected_features_], axis=0)

    def grades(self, probability: np.ndarray) -> np.ndarray:
        return grades_from_probability(probability, self.resolved_config.grade_max_pd)

    def score_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        cfg = self.resolved_config
        indices = self._feature_indices(frame)
        features = self.selected_features_
        bin_points = np.column_stack([self._bin_points[f][indices[f]] for f in features])
        points_lost = np.column_stack([self._points_lost[f][indices[f]] for f in features])
        bin_text = np.column_stack([self._bin_text[f][indices[f]] for f in features])
        points = bin_points.sum(axis=1)
        probability = probability_from_points(points, cfg.base_points, cfg.base_odds, cfg.pdo)
        out = pd.DataFrame(
            {
                "probability": probability,
                "score": np.round(100 * probability, 2),
                "points": np.round(points, 1),
                "grade": self.grades(probability),
                "tier": assign_tiers(100 * probability, self.tier_thresholds_),
            },
            index=frame.index,
        )
        reasons = top_reasons(points_lost, bin_text, cfg.n_reasons, MIN_POINTS_LOST)
        for i in range(reasons.shape[1]):
            out[f"reason_{i + 1}"] = reasons[:, i]
        return out
