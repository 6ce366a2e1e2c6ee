"""Model metrics of the five factors: discrimination, ranking, calibration, stability, clustering.

Plain numpy functions on whole arrays, each with the conventions spelled out, so the numbers a model
owner reads in MLflow can be recomputed by hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import rankdata, spearmanr
from sklearn.metrics import silhouette_score


def _binary_arrays(y_true, score) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(score, dtype="float64")
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError(
            f"labels and scores must be 1-d and the same length, got {y.shape}, {s.shape}"
        )
    if np.isnan(s).any():
        raise ValueError("scores contain NaN")
    return y, s


def _require_both_classes(y: np.ndarray) -> tuple[int, int]:
    n_pos = int(y.sum())
    n_neg = int(y.size - n_pos)
    if n_pos == 0 or n_neg == 0:
        raise ValueError("need at least one positive and one negative label")
    return n_pos, n_neg


def roc_auc(y_true, score) -> float:
    """Area under the ROC curve = P(score of a random positive > a random negative), ties count ½.

    Computed from average ranks (Mann-Whitney U), which handles ties exactly.
    """
    y, s = _binary_arrays(y_true, score)
    n_pos, n_neg = _require_both_classes(y)
    ranks = rankdata(s)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def gini(y_true, score) -> float:
    """Gini (accuracy ratio) = 2 AUC − 1."""
    return 2 * roc_auc(y_true, score) - 1


def ks_statistic(y_true, score) -> float:
    """Kolmogorov-Smirnov: the largest gap max_t (TPR(t) − FPR(t)) over thresholds t.

    Higher score = more likely positive, so a model ranking the wrong way scores 0, not its
    mirror image. Tied scores move together (thresholds only at distinct score values).
    """
    y, s = _binary_arrays(y_true, score)
    n_pos, n_neg = _require_both_classes(y)
    order = np.argsort(-s, kind="stable")
    s_sorted, y_sorted = s[order], y[order]
    # the last index of every run of equal scores is where a threshold can sit
    last_of_tie = np.r_[np.flatnonzero(np.diff(s_sorted) != 0), s_sorted.size - 1]
    tpr = np.cumsum(y_sorted)[last_of_tie] / n_pos
    fpr = np.cumsum(~y_sorted)[last_of_tie] / n_neg
    return float(max(0.0, np.max(tpr - fpr)))


def _resolve_k(k: int | float, n: int) -> int:
    if isinstance(k, float) and 0 < k <= 1:
        return max(1, math.ceil(k * n))
    if isinstance(k, (int, np.integer)) and k >= 1:
        return min(int(k), n)
    raise ValueError(f"k must be a share in (0, 1] or a count >= 1, got {k!r}")


def precision_at_k(y_true, score, k: int | float) -> float:
    """Share of positives among the k highest scores; k is a count or a share of the rows.

    When the k-th place falls inside a group of tied scores (a decision tree gives whole leaves
    the same score), the tied group contributes its average positive rate — the expected
    precision of breaking the tie at random — so the result never depends on row order.
    """
    y, s = _binary_arrays(y_true, score)
    k_count = _resolve_k(k, s.size)
    kth_score = np.sort(s)[::-1][k_count - 1]
    above = s > kth_score
    tied = s == kth_score
    n_from_tie = k_count - int(above.sum())
    positives = y[above].sum() + n_from_tie * y[tied].mean()
    return float(positives / k_count)


def lift_at_k(y_true, score, k: int | float) -> float:
    """precision@k divided by the base rate."""
    base_rate = float(np.asarray(y_true).astype(bool).mean())
    return precision_at_k(y_true, score, k) / base_rate if base_rate > 0 else float("nan")


def brier_score(y_true, probability) -> float:
    y, p = _binary_arrays(y_true, probability)
    return float(np.mean((p - y) ** 2))


def expected_calibration_error(y_true, probability, n_bins: int = 10) -> float:
    """Σ_b (n_b / n) |mean predicted_b − observed rate_b| over equal-width probability bins.

    Bins are [0, 0.1), [0.1, 0.2), ... with 1.0 in the last bin.
    """
    y, p = _binary_arrays(y_true, probability)
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    counts = np.bincount(bins, minlength=n_bins)
    predicted = np.bincount(bins, weights=p, minlength=n_bins)
    observed = np.bincount(bins, weights=y.astype(float), minlength=n_bins)
    used = counts > 0
    gaps = np.abs(predicted[used] - observed[used])  # sums, so gap_b = n_b * |mean difference|
    return float(gaps.sum() / y.size)


def calibration_table(y_true, probability, n_groups: int = 10) -> pd.DataFrame:
    """Equal-count groups by predicted probability (deciles by default), lowest first."""
    y, p = _binary_arrays(y_true, probability)
    n_groups = max(1, min(n_groups, p.size))
    # rank first so that ties cannot make qcut drop groups
    group = np.floor((rankdata(p, method="ordinal") - 1) * n_groups / p.size).astype(int) + 1
    table = (
        pd.DataFrame({"group": group, "predicted": p, "observed": y.astype(float)})
        .groupby("group")
        .agg(
            n=("predicted", "size"),
            mean_predicted=("predicted", "mean"),
            observed_rate=("observed", "mean"),
            min_predicted=("predicted", "min"),
            max_predicted=("predicted", "max"),
        )
        .reset_index()
    )
    return table


@dataclass(frozen=True)
class CalibrationReport:
    brier: float
    expected_calibration_error: float
    table: pd.DataFrame


def calibration(y_true, probability, n_bins: int = 10) -> CalibrationReport:
    return CalibrationReport(
        brier=brier_score(y_true, probability),
        expected_calibration_error=expected_calibration_error(y_true, probability, n_bins),
        table=calibration_table(y_true, probability, n_bins),
    )


PSI_FLOOR = 1e-4  # an empty bin counts as this share, so PSI stays finite


def population_stability_index(
    expected, actual, n_bins: int = 10, edges: np.ndarray | None = None
) -> float:
    """PSI = Σ_b (a_b − e_b) ln(a_b / e_b) over bins of the score.

    `expected` is the reference (earlier) distribution and `actual` the new one. Bins are the
    `edges` given or the deciles of `expected` (duplicates merged, open at both ends); a bin's
    share is floored at 1e-4. Rule of thumb: < 0.1 stable, 0.1-0.25 drifting, > 0.25 shifted.
    """
    expected = np.asarray(expected, dtype="float64")
    actual = np.asarray(actual, dtype="float64")
    expected, actual = expected[~np.isnan(expected)], actual[~np.isnan(actual)]
    if expected.size == 0 or actual.size == 0:
        raise ValueError("PSI needs non-empty score arrays")
    if edges is None:
        inner = np.unique(np.quantile(expected, np.linspace(0, 1, n_bins + 1)[1:-1]))
        edges = np.r_[-np.inf, inner, np.inf]
    edges = np.asarray(edges, dtype="float64")
    # bins are (edge_i, edge_i+1]; side="left" puts a value equal to an edge in the lower bin
    expected_share = (
        np.bincount(np.searchsorted(edges, expected, side="left") - 1, minlength=edges.size - 1)
        / expected.size
    )
    actual_share = (
        np.bincount(np.searchsorted(edges, actual, side="left") - 1, minlength=edges.size - 1)
        / actual.size
    )
    expected_share = np.maximum(expected_share, PSI_FLOOR)
    actual_share = np.maximum(actual_share, PSI_FLOOR)
    return float(np.sum((actual_share - expected_share) * np.log(actual_share / expected_share)))


def fuzzy_partition_coefficient(memberships) -> float:
    """Bezdek's partition coefficient: mean over rows of Σ_k u_ik²; 1/c (fuzzy) … 1 (crisp)."""
    u = np.asarray(memberships, dtype="float64")
    return float(np.mean(np.sum(u**2, axis=1)))


def normalised_partition_coefficient(memberships) -> float:
    """Partition coefficient rescaled to 0 (uniform) … 1 (crisp), so it compares across c."""
    u = np.asarray(memberships, dtype="float64")
    n_clusters = u.shape[1]
    if n_clusters < 2:
        return 1.0
    return (fuzzy_partition_coefficient(u) - 1 / n_clusters) / (1 - 1 / n_clusters)


def silhouette(features, labels, sample_size: int = 5000, seed: int = 0) -> float:
    """Mean silhouette on a random subsample (the full computation is quadratic in rows)."""
    x = np.asarray(features, dtype="float64")
    labels = np.asarray(labels)
    if np.unique(labels).size < 2 or x.shape[0] < 3:
        return float("nan")
    rng = np.random.default_rng(seed)
    if x.shape[0] > sample_size:
        rows = rng.choice(x.shape[0], size=sample_size, replace=False)
        x, labels = x[rows], labels[rows]
        if np.unique(labels).size < 2:
            return float("nan")
    return float(silhouette_score(x, labels))


def spearman(a, b) -> float:
    """Spearman rank correlation over the pairs where both values are present."""
    a = np.asarray(a, dtype="float64")
    b = np.asarray(b, dtype="float64")
    present = ~(np.isnan(a) | np.isnan(b))
    if present.sum() < 3 or np.ptp(a[present]) == 0 or np.ptp(b[present]) == 0:
        return float("nan")
    return float(spearmanr(a[present], b[present]).statistic)


def bootstrap_auc_interval(
    y_true, score, level: float = 0.90, rounds: int = 200, seed: int = 0
) -> tuple[float, float]:
    """The central `level` interval of the AUC over `rounds` stratified bootstrap resamples.

    Positives and negatives are resampled separately (each to its own count), so every resample
    has both classes and the base rate of the hold-out; (nan, nan) without both classes.
    """
    y, s = _binary_arrays(y_true, score)
    positives, negatives = s[y], s[~y]
    if positives.size == 0 or negatives.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    n_pos, n_neg = positives.size, negatives.size
    aucs = np.empty(rounds)
    for i in range(rounds):  # a loop over resamples, each one vectorised over the hold-out
        sample = np.r_[
            positives[rng.integers(0, n_pos, n_pos)], negatives[rng.integers(0, n_neg, n_neg)]
        ]
        ranks = rankdata(sample)
        aucs[i] = (ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    tail = (1 - level) / 2
    low, high = np.quantile(aucs, [tail, 1 - tail])
    return float(low), float(high)
