"""Arrears scorecard: points scaling, bin points add up, monotone bins, reasons cost the most."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ml import metrics as m
from ml.arrears import (
    ArrearsScorecard,
    points_from_probability,
    probability_from_points,
    scaling_constants,
)
from ml.config import ArrearsConfig

KS_THRESHOLD = 0.4  # the planted stress must give at least this; shuffled labels must not


def _odds_to_bad_probability(odds_good: float) -> float:
    return 1 / (1 + odds_good)


def test_points_scaling_base_and_doubling():
    assert points_from_probability(_odds_to_bad_probability(50)) == pytest.approx(600)
    assert points_from_probability(_odds_to_bad_probability(100)) == pytest.approx(620)
    assert points_from_probability(_odds_to_bad_probability(25)) == pytest.approx(580)
    assert points_from_probability(_odds_to_bad_probability(200)) == pytest.approx(640)
    factor, offset = scaling_constants(600, 50, 20)
    assert factor == pytest.approx(20 / math.log(2))
    assert offset == pytest.approx(600 - factor * math.log(50))
    # +20 points doubles the good:bad odds anywhere on the scale
    p = probability_from_points(np.array([512.0, 532.0]))
    odds = (1 - p) / p
    assert odds[1] / odds[0] == pytest.approx(2.0)
    assert probability_from_points(600.0) == pytest.approx(1 / 51)


@pytest.fixture(scope="module")
def fitted(synthetic_marts):
    features = synthetic_marts.train["arrears"]
    label = synthetic_marts.outcomes["arrears_30d_next"]
    known = label.notna().to_numpy()
    y = label[known].astype(int).to_numpy()
    train, test = features[known].iloc[:5000], features[known].iloc[5000:]
    model = ArrearsScorecard().fit(train, y[:5000])
    return model, test, y[5000:]


def test_scorecard_separates_planted_stress(fitted):
    model, test, y_test = fitted
    probability = model.predict_proba(test)[:, 1]
    assert m.ks_statistic(y_test, probability) > KS_THRESHOLD
    assert m.roc_auc(y_test, probability) > 0.8
    assert (
        "late_payment_rate_12m" in model.selected_features_
        or "late_payments_12m" in model.selected_features_
    )


def test_bin_points_add_up_to_the_scaled_log_odds(fitted):
    model, test, _ = fitted
    out = model.score_frame(test)
    points = model.points(test)
    probability = model.predict_proba(test)[:, 1]
    # the customer's points are the points of the scaled model probability
    assert points == pytest.approx(points_from_probability(probability), abs=1e-6)
    assert out["points"].to_numpy() == pytest.approx(points, abs=0.051)
    assert out["probability"].to_numpy() == pytest.approx(probability)
    assert out["score"].to_numpy() == pytest.approx(100 * probability, abs=0.006)


def test_monotone_bins_give_monotone_points(fitted):
    model, _, _ = fitted
    card = model.scorecard_
    for feature in ("late_payment_rate_12m", "late_payments_12m"):
        if feature not in model.selected_features_:
            continue
        bins = card[(card["feature"] == feature) & ~card["bin"].isin(["Special", "Missing"])]
        # more late payments → higher arrears rate (ascending) → fewer points
        assert np.all(np.diff(bins["points"].to_numpy()) <= 1e-9)
        assert np.all(np.diff(bins["event_rate"].to_numpy()) >= -1e-9)


def test_grades_order_risk(fitted):
    model, test, _ = fitted
    out = model.score_frame(test)
    by_grade = out.groupby("grade")["probability"].mean()
    assert by_grade.index.tolist() == sorted(by_grade.index)
    assert np.all(np.diff(by_grade.to_numpy()) > 0)  # A best … E worst
    # grades are fixed bands of the calibrated probability, tiers multiples of the base rate
    bands = model.resolved_config.grade_max_pd
    upper = out["grade"].map(bands)
    lower = out["grade"].map(dict(zip("BCDE", [bands[g] for g in "ABCD"], strict=True))).fillna(0)
    assert ((out["probability"] < upper) | (out["grade"] == "E")).all()
    assert (out["probability"] >= lower).all()
    high = out["probability"] >= 2 * model.base_rate_
    assert (out.loc[high, "tier"] == "high").all() and (out.loc[~high, "tier"] != "high").all()
    assert out["grade"].nunique() >= 3


def test_reasons_are_the_bins_that_cost_the_most_points(fitted):
    model, test, _ = fitted
    out = model.score_frame(test)
    card = model.scorecard_
    best = card[card["count"] > 0].groupby("feature")["points"].max()
    lookup = {
        (
            f"{row.feature} is missing" if row.bin == "Missing" else f"{row.feature} in {row.bin}"
        ): best[row.feature] - row.points
        for row in card.itertuples()
    }
    risky = out.sort_values("probability", ascending=False).head(300)
    assert risky["reason_1"].notna().all()
    for _, row in risky.iterrows():
        reasons = [r for r in row[["reason_1", "reason_2", "reason_3"]] if isinstance(r, str)]
        losses = [lookup[r] for r in reasons]
        assert losses == sorted(losses, reverse=True)
        assert min(losses) >= 0.5
    # the riskiest customer, recomputed independently: each feature's bin → loss from the table
    customer = model.model_input(test.loc[[risky.index[0]]])
    loss_by_feature = {}
    for feature in model.selected_features_:
        binned = model.binning_process_.get_binned_variable(feature)
        bin_label = binned.transform(
            customer[feature].to_numpy(),
            metric="bins",
            metric_missing="empirical",
            metric_special="empirical",
        )[0]
        in_table = card[(card["feature"] == feature) & (card["bin"] == str(bin_label))]
        loss_by_feature[feature] = best[feature] - in_table["points"].iloc[0]
    expected = [
        f
        for f in sorted(loss_by_feature, key=loss_by_feature.get, reverse=True)[:3]
        if loss_by_feature[f] >= 0.5
    ]
    reasons = [r for r in risky.iloc[0][["reason_1", "reason_2", "reason_3"]] if isinstance(r, str)]
    assert [r.split(" ")[0] for r in reasons] == expected


def test_shuffled_labels_fail_the_same_threshold(synthetic_marts):
    features = synthetic_marts.train["arrears"]
    label = synthetic_marts.outcomes["arrears_30d_next"]
    known = label.notna().to_numpy()
    y = label[known].astype(int).to_numpy()
    shuffled = np.random.default_rng(1).permutation(y[:5000])
    model = ArrearsScorecard(ArrearsConfig(min_iv=0.0)).fit(features[known].iloc[:5000], shuffled)
    probability = model.predict_proba(features[known].iloc[5000:])[:, 1]
    # the monotone-trend config is prior knowledge, so a little KS survives the shuffle
    assert m.ks_statistic(y[5000:], probability) < KS_THRESHOLD


def test_no_informative_feature_is_a_clear_error():
    rng = np.random.default_rng(0)
    cfg = ArrearsConfig(numeric_features=("noise",), categorical_features=())
    frame = pd.DataFrame({"noise": rng.normal(size=2000)})
    with pytest.raises(ValueError, match="information value"):
        ArrearsScorecard(cfg).fit(frame, rng.integers(0, 2, 2000))


def test_unseen_category_and_missing_values_are_scored(fitted):
    model, test, _ = fitted
    odd = test.head(2).copy()
    odd["customer_type"] = ["spaceship", None]
    odd["late_payment_rate_12m"] = np.nan
    out = model.score_frame(odd)
    assert out["points"].notna().all()
