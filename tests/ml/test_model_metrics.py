"""Metrics on hand-computed examples, and against scikit-learn on random data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score, roc_curve, silhouette_score

from ml import metrics as m


def test_roc_auc_counts_pairs_and_half_ties():
    # positives {0.35, 0.8} vs negatives {0.1, 0.4}: 3 of 4 pairs ranked right
    assert m.roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    # one tied pair counts 1/2: (1 + 0.5 + 1 + 1) / 4
    assert m.roc_auc([0, 0, 1, 1], [0.2, 0.5, 0.5, 0.9]) == pytest.approx(0.875)
    assert m.gini([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.5)


def test_roc_auc_needs_both_classes():
    with pytest.raises(ValueError, match="positive and one negative"):
        m.roc_auc([1, 1], [0.2, 0.3])


def test_ks_is_the_largest_tpr_minus_fpr_gap():
    # thresholds 0.8, 0.4, 0.35, 0.1: TPR .5 .5 1 1, FPR 0 .5 .5 1
    assert m.ks_statistic([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.5)


def test_ks_moves_tied_scores_together():
    # at 0.9 (three tied rows): TPR 1/2, FPR 2/3; at 0.2: TPR 1, FPR 2/3 → KS 1/3, not 1/2
    assert m.ks_statistic([1, 0, 0, 1, 0], [0.9, 0.9, 0.9, 0.2, 0.1]) == pytest.approx(1 / 3)


def test_ks_of_a_reversed_model_is_zero():
    assert m.ks_statistic([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9]) == 0.0


def test_precision_at_k_by_count_share_and_ties():
    y, s = [1, 0, 1, 0, 0], [0.9, 0.8, 0.7, 0.6, 0.5]
    assert m.precision_at_k(y, s, 2) == pytest.approx(0.5)
    assert m.precision_at_k(y, s, 0.6) == pytest.approx(2 / 3)  # ceil(0.6 × 5) = 3 rows
    # one clear positive, then 1 of a 3-way tie whose positive rate is 1/3
    assert m.precision_at_k([1, 0, 0, 1], [0.9, 0.5, 0.5, 0.5], 2) == pytest.approx(2 / 3)
    assert m.lift_at_k(y, s, 2) == pytest.approx(0.5 / 0.4)


def test_brier_ece_and_calibration_table():
    assert m.brier_score([1, 0], [0.8, 0.3]) == pytest.approx((0.04 + 0.09) / 2)
    y, p = [1, 0, 1, 1], [0.05, 0.15, 0.85, 0.95]
    # ten bins, one row each: (.95 + .15 + .15 + .05) / 4
    assert m.expected_calibration_error(y, p) == pytest.approx(0.325)
    # two bins: mean p .1 vs rate .5, mean p .9 vs rate 1 → (2·.4 + 2·.1) / 4
    assert m.expected_calibration_error(y, p, n_bins=2) == pytest.approx(0.25)
    table = m.calibration_table(y, p, n_groups=2)
    assert table["n"].tolist() == [2, 2]
    assert table["mean_predicted"].tolist() == pytest.approx([0.1, 0.9])
    assert table["observed_rate"].tolist() == pytest.approx([0.5, 1.0])
    report = m.calibration(y, p, n_bins=2)
    assert report.expected_calibration_error == pytest.approx(0.25)


def test_psi_hand_computed():
    # bins (-inf, 2], (2, inf): expected .5/.5, actual .75/.25
    expected = 0.25 * math.log(1.5) + 0.25 * math.log(2)
    value = m.population_stability_index([1, 2, 3, 4], [1, 1, 1, 4], edges=[-np.inf, 2, np.inf])
    assert value == pytest.approx(expected)
    assert value == pytest.approx(0.274653, abs=1e-6)
    assert m.population_stability_index([1, 2, 3, 4] * 10, [1, 2, 3, 4] * 5) == 0.0


def test_psi_floors_empty_bins():
    value = m.population_stability_index([1, 1], [3, 3], edges=[-np.inf, 2, np.inf])
    assert value == pytest.approx(2 * (1 - 1e-4) * math.log(1e4))


def test_fuzzy_partition_coefficient():
    u = np.array([[1.0, 0.0], [0.5, 0.5]])
    assert m.fuzzy_partition_coefficient(u) == pytest.approx(0.75)
    assert m.normalised_partition_coefficient(u) == pytest.approx(0.5)
    assert m.normalised_partition_coefficient(np.full((4, 5), 0.2)) == pytest.approx(0.0)


def test_silhouette_matches_sklearn_and_subsamples():
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(0, 0.1, (50, 2)), rng.normal(5, 0.1, (50, 2))]
    labels = np.r_[np.zeros(50), np.ones(50)]
    assert m.silhouette(x, labels) == pytest.approx(silhouette_score(x, labels))
    assert m.silhouette(x, labels, sample_size=40, seed=1) > 0.9
    assert math.isnan(m.silhouette(x, np.zeros(100)))


def test_spearman_ignores_missing_pairs():
    assert m.spearman([1, 2, 3, 4, np.nan], [10, 20, 40, 30, 5]) == pytest.approx(0.8)


scores_and_labels = st.integers(min_value=4, max_value=60).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 1), min_size=n, max_size=n),
        st.lists(st.integers(0, 8), min_size=n, max_size=n),  # few values → many ties
    )
)


@settings(max_examples=60, deadline=None)
@given(scores_and_labels)
def test_auc_and_ks_agree_with_sklearn(data):
    y, s = np.array(data[0]), np.array(data[1], dtype=float)
    if y.min() == y.max():
        return
    assert m.roc_auc(y, s) == pytest.approx(roc_auc_score(y, s))
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    assert m.ks_statistic(y, s) == pytest.approx(max(0.0, np.max(tpr - fpr)))


@settings(max_examples=60, deadline=None)
@given(scores_and_labels, st.integers(1, 60))
def test_precision_at_k_is_a_rate_and_order_free(data, k):
    y, s = np.array(data[0]), np.array(data[1], dtype=float)
    value = m.precision_at_k(y, s, k)
    assert 0.0 <= value <= 1.0
    order = np.random.default_rng(k).permutation(y.size)
    assert m.precision_at_k(y[order], s[order], k) == pytest.approx(value)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(0, 100), min_size=5, max_size=80),
    st.lists(st.floats(0, 100), min_size=5, max_size=80),
)
def test_psi_is_non_negative(expected, actual):
    assert m.population_stability_index(expected, actual) >= 0.0
