"""The rows a factor model trains and is judged on: labels whose window has closed, a hold-out of
whole customers by a keyed hash, the data windows and the feature drift logged beside them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml import metrics as m
from ml.config import TrainingConfig
from ml.preprocessing import KEY_COLUMNS, TooFewLabels, numeric_matrix, require_columns


@dataclass(frozen=True)
class DataWindows:
    train_as_of_month: str
    score_as_of_month: str
    outcome_window_start: str | None = None
    outcome_window_end: str | None = None

    def as_params(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def month_label(values: pd.Series) -> str:
    months = pd.to_datetime(values.dropna().unique())
    if len(months) == 0:
        return "unknown"
    labels = sorted({ts.strftime("%Y-%m") for ts in months})
    return labels[0] if len(labels) == 1 else f"{labels[0]}..{labels[-1]}"


def data_windows(features_train, features_score, supervised: bool, training: TrainingConfig):
    windows = DataWindows(
        month_label(features_train["as_of_month"]), month_label(features_score["as_of_month"])
    )
    if not supervised:
        return windows
    months = pd.to_datetime(features_train["as_of_month"].dropna().unique())
    start = (months.min() + pd.DateOffset(months=1)).strftime("%Y-%m")
    end = (months.max() + pd.DateOffset(months=training.outcome_months)).strftime("%Y-%m")
    return DataWindows(windows.train_as_of_month, windows.score_as_of_month, start, end)


def check_keys(frame: pd.DataFrame, what: str) -> None:
    require_columns(frame, KEY_COLUMNS, what)
    duplicated = frame.duplicated(list(KEY_COLUMNS))
    if duplicated.any():
        example = frame.loc[duplicated, list(KEY_COLUMNS)].iloc[0].tolist()
        raise ValueError(
            f"{what} has {int(duplicated.sum())} duplicate (customer_id, "
            f"as_of_month) rows, e.g. {example}"
        )


def _join_key(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": frame["customer_id"].astype(str).to_numpy(),
            "as_of_month": pd.to_datetime(frame["as_of_month"]).to_numpy(),
        }
    )


def labelled_rows(features: pd.DataFrame, outcomes: pd.DataFrame, label: str):
    """Training rows with a known label whose outcome window has closed, and the 0/1 labels."""
    require_columns(outcomes, [*KEY_COLUMNS, label], "outcomes frame")
    check_keys(outcomes, "outcomes frame")
    outcome_columns = _join_key(outcomes)
    outcome_columns["_label"] = outcomes[label].to_numpy()
    if "outcome_window_closed" in outcomes.columns:
        closed = outcomes["outcome_window_closed"].astype("boolean").fillna(False)
        outcome_columns["_closed"] = closed.to_numpy(dtype=bool)
    else:
        outcome_columns["_closed"] = True
    joined = _join_key(features).merge(outcome_columns, on=list(KEY_COLUMNS), how="left")
    known = joined["_label"].notna().to_numpy() & joined["_closed"].fillna(False).to_numpy(bool)
    if not known.any():
        raise TooFewLabels(
            f"no training row has a known {label} with a closed outcome window; train on an "
            "earlier as-of month"
        )
    labels = joined.loc[known, "_label"].astype(bool).to_numpy().astype(int)
    return features.loc[known], labels


def holdout_fraction(customer_ids, seed: int) -> np.ndarray:
    """A fixed number in [0, 1) per customer id, from a keyed hash of the id and the seed.

    The same customer lands on the same side of the hold-out line in every run and every month,
    whatever the row order, so a champion trained last month never saw this month's hold-out
    customers.
    """
    keys = pd.Series(customer_ids, dtype="string").astype(str).to_numpy(dtype=object)
    hashed = pd.util.hash_array(keys, hash_key=f"powerseg{seed:08d}"[-16:].rjust(16, "0"))
    return (hashed >> np.uint64(11)).astype(np.float64) / float(2**53)


def split_holdout(features: pd.DataFrame, labels, training: TrainingConfig):
    """Hold out whole customers, chosen by a keyed hash of their id, stratified on the label.

    Customers are ranked by their hash within each stratum (ever positive / never positive when
    there is a label) and the lowest `holdout_share` of each stratum (rounded down) is held out
    with all its rows. Row order never changes the split, and no customer is on both sides.
    """
    # a supervised factor on thin labels is skipped (TooFewLabels), not a failed run
    thin = TooFewLabels if labels is not None else ValueError
    if len(features) < training.min_training_rows:
        raise thin(
            f"only {len(features)} training rows; need at least {training.min_training_rows} to "
            "hold some out"
        )
    customers = pd.DataFrame(
        {
            "customer_id": features["customer_id"].astype(str).to_numpy(),
            "label": labels if labels is not None else 0,
        }
    )
    per_customer = customers.groupby("customer_id", sort=True)["label"].max().reset_index()
    per_customer["u"] = holdout_fraction(per_customer["customer_id"], training.seed)
    rank = per_customer.groupby("label")["u"].rank(method="first", pct=False)
    size = per_customer.groupby("label")["u"].transform("size")
    # rounded down, so a stratum of one customer (a single positive) stays in the fit
    per_customer["holdout"] = rank <= np.floor(training.holdout_share * size)
    held_out = (
        customers["customer_id"]
        .isin(per_customer.loc[per_customer["holdout"], "customer_id"])
        .to_numpy()
    )
    if held_out.all() or not held_out.any():
        raise thin(
            f"{per_customer.shape[0]} customers are too few to hold "
            f"{training.holdout_share:.0%} of them out"
        )
    fit_rows, holdout_rows = np.flatnonzero(~held_out), np.flatnonzero(held_out)
    fit_labels = labels[fit_rows] if labels is not None else None
    holdout_labels = labels[holdout_rows] if labels is not None else None
    if labels is not None:
        for side, side_labels in (("fit", fit_labels), ("hold-out", holdout_labels)):
            positives = int(np.sum(side_labels))
            if positives < training.min_positives_per_side or positives == len(side_labels):
                raise TooFewLabels(
                    f"the {side} set has {positives} positive of {len(side_labels)} labelled "
                    f"rows; a model needs at least {training.min_positives_per_side} positive "
                    "and one negative on each side of the hold-out line"
                )
    return (features.iloc[fit_rows], fit_labels), (features.iloc[holdout_rows], holdout_labels)


def months_of(values: pd.Series) -> tuple[str, ...]:
    return tuple(sorted({ts.strftime("%Y-%m") for ts in pd.to_datetime(values.dropna().unique())}))


def numeric_inputs(estimator) -> list[str]:
    """The estimator's numeric input columns (the categorical ones have no order to rank by)."""
    cfg = estimator.resolved_config
    return list(getattr(cfg, "numeric_features", None) or getattr(cfg, "features", ()))


def feature_psi(training: pd.DataFrame, scoring: pd.DataFrame, columns) -> dict[str, float]:
    """PSI of each numeric feature between the training rows and the scored month (deciles of
    the training values; a NULL is its own bin), so a model owner sees what moved."""
    result = {}
    train_matrix = numeric_matrix(training, list(columns))
    score_matrix = numeric_matrix(scoring, list(columns))
    for i, name in enumerate(columns):  # a loop over features, each vectorised
        train, score = train_matrix[:, i], score_matrix[:, i]
        if np.isnan(train).all() or np.isnan(score).all():
            continue
        # NULL becomes a value below every other, so a column filling up or emptying shows
        low = np.nanmin(np.r_[train, score]) - 1.0
        result[name] = m.population_stability_index(
            np.where(np.isnan(train), low, train), np.where(np.isnan(score), low, score)
        )
    return result
