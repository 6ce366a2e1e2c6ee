"""Outage sensitivity: recovers a known logistic model, reasons follow coef × z, tiers by share."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml import metrics as m
from ml.config import OutageSensitivityConfig, TierRule
from ml.outage_sensitivity import OutageSensitivityModel

TRUE_COEFFICIENTS = {"x1": 1.5, "x2": -1.0, "x3": 0.5, "x4": 0.0, "x5": 0.0}


def _logistic_data(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({name: rng.normal(0, 1, n) for name in TRUE_COEFFICIENTS})
    logit = -1.0 + frame.to_numpy() @ np.array(list(TRUE_COEFFICIENTS.values()))
    probability = 1 / (1 + np.exp(-logit))
    return frame, (rng.random(n) < probability).astype(int), probability


def _model(**overrides) -> OutageSensitivityModel:
    return OutageSensitivityModel(
        OutageSensitivityConfig(features=tuple(TRUE_COEFFICIENTS), log_features=(), **overrides)
    )


@pytest.fixture(scope="module")
def logistic_split():
    frame, y, probability = _logistic_data(20000, seed=11)
    return frame[:15000], y[:15000], frame[15000:], y[15000:], probability[15000:]


def test_auc_reaches_the_bayes_auc(logistic_split):
    train, y_train, test, y_test, true_probability = logistic_split
    bayes_auc = m.roc_auc(y_test, true_probability)
    model = _model().fit(train, y_train)
    auc = m.roc_auc(y_test, model.predict_proba(test)[:, 1])
    assert auc >= bayes_auc - 0.01
    coefficients = dict(
        zip(model.coefficients_["feature"], model.coefficients_["coefficient"], strict=True)
    )
    # standardised coefficients = true coefficients × the (≈1) feature scale
    assert coefficients["x1"] == pytest.approx(1.5, abs=0.1)
    assert coefficients["x2"] == pytest.approx(-1.0, abs=0.1)
    assert abs(coefficients["x4"]) < 0.1


def test_shuffled_labels_fail_the_same_threshold(logistic_split):
    train, y_train, test, y_test, true_probability = logistic_split
    bayes_auc = m.roc_auc(y_test, true_probability)
    shuffled = np.random.default_rng(0).permutation(y_train)
    model = _model().fit(train, shuffled)
    assert m.roc_auc(y_test, model.predict_proba(test)[:, 1]) < bayes_auc - 0.01
    assert m.roc_auc(y_test, model.predict_proba(test)[:, 1]) < 0.55


def test_reasons_are_the_largest_positive_contributions(logistic_split):
    train, y_train, test, _, _ = logistic_split
    model = _model().fit(train, y_train)
    out = model.score_frame(test)
    contributions = model.contributions(test)
    names = np.array(model.standardiser_.output_names)
    for row in range(200):
        order = np.argsort(-contributions[row])[:3]
        expected = [names[i] for i in order if contributions[row, i] > 0]
        got = [r for r in out.iloc[row][["reason_1", "reason_2", "reason_3"]] if isinstance(r, str)]
        assert [r.split("_", 1)[1] for r in got] == expected


def test_reason_codes_say_high_or_low():
    frame, y, _ = _logistic_data(5000, seed=2)
    model = _model().fit(frame, y)
    extreme = pd.DataFrame(
        {"x1": [4.0, 0.0], "x2": [0.0, -4.0], "x3": [0.0, 0.0], "x4": [0.0, 0.0], "x5": [0.0, 0.0]}
    )
    out = model.score_frame(extreme)
    assert out["reason_1"].tolist() == ["high_x1", "low_x2"]
    assert out["probability"].iloc[0] > 0.9


def test_missing_values_get_an_indicator_and_a_reason():
    frame, y, _ = _logistic_data(5000, seed=3)
    frame["x3"] = frame["x3"].mask(y == 1, np.nan)  # missingness itself predicts the outcome
    model = _model().fit(frame, y)
    assert "x3_missing" in model.standardiser_.output_names
    out = model.score_frame(
        pd.DataFrame({"x1": [0.0], "x2": [0.0], "x3": [np.nan], "x4": [0.0], "x5": [0.0]})
    )
    assert out["reason_1"].iloc[0] == "missing_x3"


def test_quantile_tiers_hit_their_shares():
    frame, y, _ = _logistic_data(10000, seed=4)
    model = _model(tiers=TierRule("quantile", high=0.1, medium=0.2)).fit(frame, y)
    shares = model.score_frame(frame)["tier"].value_counts(normalize=True)
    assert shares["high"] == pytest.approx(0.1, abs=0.01)
    assert shares["medium"] == pytest.approx(0.2, abs=0.01)


def test_synthetic_mart_sensitivity_is_recovered(synthetic_marts):
    features = synthetic_marts.train["outage_sensitivity"]
    outcomes = synthetic_marts.outcomes
    known = outcomes["outage_contact_72h_next"].notna().to_numpy()
    y = outcomes.loc[known, "outage_contact_72h_next"].astype(int).to_numpy()
    model = OutageSensitivityModel().fit(features[known], y)
    scores = model.score_frame(synthetic_marts.score["outage_sensitivity"])["score"]
    trait = synthetic_marts.traits["outage_sensitivity"]
    assert m.spearman(scores, trait) > 0.4
