"""Shared building blocks of the factor models: feature matrices, standardisation, tiers, reasons.

Everything works on whole columns (numpy / pandas); no function loops over customers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ml.config import TierRule

TIER_LABELS = ("low", "medium", "high")
KEY_COLUMNS = ("customer_id", "as_of_month")


class TooFewLabels(ValueError):
    """The training window holds no usable label set (one class only, or no known label): the
    data is too thin for a supervised model this month, which is not a bug in the data or code."""


def require_columns(frame: pd.DataFrame, columns, what: str) -> None:
    """Fail with the names of the missing columns instead of a KeyError deep inside a model."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} is missing column(s): {', '.join(missing)}")


def numeric_matrix(frame: pd.DataFrame, columns) -> np.ndarray:
    """Columns as a float64 matrix; booleans become 0/1 and SQL NULLs become NaN."""
    require_columns(frame, columns, "feature frame")
    if not len(columns):
        return np.empty((len(frame), 0))
    return np.column_stack(
        [pd.to_numeric(frame[c], errors="coerce").astype("float64").to_numpy() for c in columns]
    )


def model_input_frame(
    frame: pd.DataFrame, numeric_features, categorical_features, what: str
) -> pd.DataFrame:
    """Numeric columns as float64 and categorical ones as strings (NULL stays missing): the frame
    a model reads and its MLflow signature describes."""
    require_columns(frame, [*numeric_features, *categorical_features], what)
    data = pd.DataFrame(
        numeric_matrix(frame, numeric_features),
        columns=list(numeric_features),
        index=frame.index,
    )
    for column in categorical_features:
        data[column] = (
            frame[column].astype("string").astype(object).where(frame[column].notna(), None)
        )
    return data


@dataclass
class Standardiser:
    """log1p for skewed columns, winsorising, median imputation with indicators, z-scores.

    Winsorising at training quantiles keeps one factory or one data error from setting the scale
    for everyone; a NaN indicator is added only for columns that had NULLs in training.
    """

    features: tuple[str, ...]
    log_features: tuple[str, ...] = ()
    clip_quantiles: tuple[float, float] = (0.005, 0.995)
    lower_: np.ndarray = field(init=False, repr=False)
    upper_: np.ndarray = field(init=False, repr=False)
    median_: np.ndarray = field(init=False, repr=False)
    mean_: np.ndarray = field(init=False, repr=False)
    scale_: np.ndarray = field(init=False, repr=False)
    missing_indicator_columns_: tuple[int, ...] = field(init=False, default=())

    def _raw(self, frame: pd.DataFrame) -> np.ndarray:
        values = numeric_matrix(frame, self.features)
        log_mask = np.isin(np.array(self.features), np.array(self.log_features, dtype=object))
        if log_mask.any():
            # negative values (refunds, corrections) must not produce NaN from log1p
            values[:, log_mask] = np.log1p(np.clip(values[:, log_mask], 0, None))
        return values

    def fit(self, frame: pd.DataFrame) -> Standardiser:
        values = self._raw(frame)
        all_missing = np.isnan(values).all(axis=0)
        if all_missing.any():
            names = [f for f, m in zip(self.features, all_missing, strict=True) if m]
            raise ValueError(f"feature(s) entirely NULL in training data: {', '.join(names)}")
        self.lower_ = np.nanquantile(values, self.clip_quantiles[0], axis=0)
        self.upper_ = np.nanquantile(values, self.clip_quantiles[1], axis=0)
        clipped = np.clip(values, self.lower_, self.upper_)
        self.median_ = np.nanmedian(clipped, axis=0)
        filled = np.where(np.isnan(clipped), self.median_, clipped)
        self.mean_ = filled.mean(axis=0)
        scale = filled.std(axis=0)
        self.scale_ = np.where(scale > 0, scale, 1.0)  # constant columns stay 0, not NaN
        self.missing_indicator_columns_ = tuple(np.flatnonzero(np.isnan(values).any(axis=0)))
        return self

    @property
    def output_names(self) -> list[str]:
        names = list(self.features)
        names += [f"{self.features[i]}_missing" for i in self.missing_indicator_columns_]
        return names

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        values = self._raw(frame)
        missing = np.isnan(values)
        clipped = np.clip(values, self.lower_, self.upper_)
        filled = np.where(missing, self.median_, clipped)
        standardised = (filled - self.mean_) / self.scale_
        if not self.missing_indicator_columns_:
            return standardised
        indicators = missing[:, list(self.missing_indicator_columns_)].astype("float64")
        return np.column_stack([standardised, indicators])


def one_hot(frame: pd.DataFrame, column: str, categories: list[str]) -> np.ndarray:
    """0/1 columns for the training categories; an unseen category is all zeros."""
    values = frame[column].astype("string").fillna("<missing>").to_numpy()
    return (values[:, None] == np.asarray(categories, dtype=object)[None, :]).astype("float64")


def fit_tier_thresholds(
    training_scores: np.ndarray, rule: TierRule, base_rate: float | None = None
) -> tuple[float, float]:
    """Score thresholds (high, medium) that `assign_tiers` applies; a 0-100 score is 100 × the
    probability, so a base-rate rule puts the thresholds at 100 × multiple × base rate."""
    if rule.method == "cutoff":
        return float(rule.high), float(rule.medium)
    if rule.method == "base_rate":
        if base_rate is None or not 0 < base_rate < 1:
            raise ValueError(f"base-rate tiers need a base rate in (0, 1), got {base_rate}")
        return 100 * rule.high * base_rate, 100 * rule.medium * base_rate
    scores = np.asarray(training_scores, dtype="float64")
    high = float(np.quantile(scores, 1 - rule.high))
    medium = float(np.quantile(scores, 1 - rule.high - rule.medium))
    return high, min(medium, high)


def assign_tiers(scores: np.ndarray, thresholds: tuple[float, float]) -> np.ndarray:
    high, medium = thresholds
    labels = np.array(TIER_LABELS, dtype=object)
    # when a quantile threshold lands on a tie, everyone at it joins the higher tier
    level = (np.asarray(scores) >= medium).astype(int) + (np.asarray(scores) >= high).astype(int)
    return labels[level]


def top_reasons(
    contributions: np.ndarray, names: np.ndarray, n_reasons: int, min_contribution: float = 0.0
) -> np.ndarray:
    """Per row, the names of the `n_reasons` largest contributions above `min_contribution`.

    `names` is either one name per column or a matrix of the same shape as `contributions`
    (a row-specific text such as the bin a customer falls in). Slots without a qualifying
    contribution are None. Returns an (n_rows, n_reasons) object array.
    """
    n_rows, n_columns = contributions.shape
    result = np.full((n_rows, n_reasons), None, dtype=object)
    if n_columns == 0 or n_rows == 0:
        return result
    take = min(n_reasons, n_columns)
    # stable sort on the negated values keeps ties in column order, so reasons are reproducible
    order = np.argsort(-contributions, axis=1, kind="stable")[:, :take]
    top_values = np.take_along_axis(contributions, order, axis=1)
    if names.ndim == 1:
        top_names = np.asarray(names, dtype=object)[order]
    else:
        top_names = np.take_along_axis(np.asarray(names, dtype=object), order, axis=1)
    result[:, :take] = np.where(top_values > min_contribution, top_names, None)
    return result
