"""Inspection tree: planted rules come back as text, rule paths partition the rows, precision@k."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from ml import metrics as m
from ml.config import InspectionConfig
from ml.inspection import InspectionRiskModel, format_threshold

CONDITION = re.compile(r"^(\S+) (<=|>|!=|=) (.+)$")


def rule_mask(frame: pd.DataFrame, rule: str) -> np.ndarray:
    """Evaluate a rule path text on a frame: the test's own reading of the rule grammar."""
    mask = np.ones(len(frame), dtype=bool)
    if rule == "all customers":
        return mask
    for condition in rule.split(" AND "):
        name, operator, value = CONDITION.match(condition).groups()
        column = frame[name]
        if operator == "=":
            mask &= (column == value).to_numpy()
        elif operator == "!=":
            mask &= (column != value).to_numpy()
        elif operator == ">":
            mask &= (column.astype(float) > float(value)).to_numpy()
        else:
            mask &= (column.astype(float) <= float(value)).to_numpy()
    return mask


def _planted(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "drop": np.round(rng.uniform(0, 1, n), 2),  # a 0.01 grid: thresholds land on x.xx5
            "cover_open": rng.poisson(0.5, n).astype(float),
            "noise": np.round(rng.normal(0, 1, n), 2),
            "customer_type": rng.choice(["residential", "industrial"], n),
        }
    )
    theft = (frame["drop"] > 0.5) & (frame["cover_open"] >= 1)
    y = np.where(theft, rng.random(n) < 0.95, rng.random(n) < 0.02).astype(int)
    return frame, y


PLANTED_CONFIG = InspectionConfig(
    numeric_features=("drop", "cover_open", "noise"),
    categorical_features=("customer_type",),
    fill_values={},
    max_depth=2,
    min_samples_leaf=20,
)


def test_planted_rule_is_read_back_as_text():
    frame, y = _planted(6000, seed=1)
    model = InspectionRiskModel(PLANTED_CONFIG).fit(frame, y)
    top_leaf = model.leaf_rules_.iloc[0]
    assert top_leaf["rule"] in (
        "drop > 0.505 AND cover_open > 0.5",
        "cover_open > 0.5 AND drop > 0.505",
    )
    assert top_leaf["positive_rate"] > 0.9
    assert "drop" in model.rules_text_ and "cover_open" in model.rules_text_


def test_rule_paths_match_the_tree():
    frame, y = _planted(6000, seed=2)
    model = InspectionRiskModel(replace(PLANTED_CONFIG, max_depth=4)).fit(frame, y)
    reasons = model.score_frame(frame)["reason"].to_numpy()
    leaves = model.tree_model_.apply(model._matrix(frame))
    # one rule per leaf, and each rule selects exactly the rows the tree sends to that leaf
    for leaf, rule in zip(model.leaf_rules_["leaf_id"], model.leaf_rules_["rule"], strict=True):
        assert np.array_equal(rule_mask(frame, rule), leaves == leaf), rule
        assert set(reasons[leaves == leaf]) == {rule}


def test_probability_undoes_the_balanced_weights():
    frame, y = _planted(6000, seed=3)
    model = InspectionRiskModel(PLANTED_CONFIG).fit(frame, y)
    # after the prior correction a leaf's probability is its training positive rate again
    assert model.leaf_rules_["probability"].to_numpy() == pytest.approx(
        model.leaf_rules_["positive_rate"].to_numpy()
    )


def test_format_threshold_is_readable():
    assert format_threshold(0.30512, 4) == "0.3051"
    assert format_threshold(0.5, 4) == "0.5"
    assert format_threshold(12345.6, 4) == "12345.6"
    assert format_threshold(-0.42724, 4) == "-0.4272"


def test_model_input_types_columns_and_keeps_nulls():
    frame = pd.DataFrame(
        {
            "drop": ["0.25", None, "x"],
            "cover_open": [True, False, True],
            "noise": [1, 2, 3],
            "customer_type": ["residential", None, 7],
            "unused": [1, 2, 3],
        },
        index=[10, 11, 12],
    )
    data = InspectionRiskModel(PLANTED_CONFIG).model_input(frame)
    assert list(data.columns) == ["drop", "cover_open", "noise", "customer_type"]
    assert list(data.index) == [10, 11, 12]
    assert data["drop"].tolist()[0] == 0.25 and data["drop"].isna().tolist() == [False, True, True]
    assert data["cover_open"].tolist() == [1.0, 0.0, 1.0]
    assert data["customer_type"].tolist() == ["residential", None, "7"]
    with pytest.raises(ValueError, match="inspection feature frame is missing column.*noise"):
        InspectionRiskModel(PLANTED_CONFIG).model_input(frame.drop(columns="noise"))


PRECISION_LIFT = 3.0  # the inspection list must find thieves at 3× the base rate


def _inspected(synthetic_marts):
    label = synthetic_marts.outcomes["inspection_positive_next"]
    known = label.notna().to_numpy()
    features = synthetic_marts.train["inspection"][known]
    return features, label[known].astype(int).to_numpy()


def test_precision_at_k_beats_the_base_rate(synthetic_marts):
    features, y = _inspected(synthetic_marts)
    half = len(y) // 2
    model = InspectionRiskModel().fit(features.iloc[:half], y[:half])
    score = model.predict_proba(features.iloc[half:])[:, 1]
    assert m.precision_at_k(y[half:], score, 0.1) > PRECISION_LIFT * y[half:].mean()
    # scored everyone, not only the inspected, and the list ranks true thieves first
    everyone = model.score_frame(synthetic_marts.score["inspection"])
    thieves = synthetic_marts.traits["is_thief"].to_numpy()
    assert m.precision_at_k(thieves, everyone["score"], 0.04) > PRECISION_LIFT * thieves.mean()


def test_shuffled_labels_fail_the_same_threshold(synthetic_marts):
    features, y = _inspected(synthetic_marts)
    half = len(y) // 2
    precisions = []
    # a top-10 % list of ~50 rows is one or two tree leaves, so a single shuffle can get lucky;
    # the average over several shuffles is what must fail
    for seed in range(5):
        shuffled = np.random.default_rng(seed).permutation(y[:half])
        model = InspectionRiskModel().fit(features.iloc[:half], shuffled)
        score = model.predict_proba(features.iloc[half:])[:, 1]
        precisions.append(m.precision_at_k(y[half:], score, 0.1))
    assert np.mean(precisions) < PRECISION_LIFT * y[half:].mean()


def test_gradient_boosting_challenger_keeps_tree_reasons(synthetic_marts):
    features, y = _inspected(synthetic_marts)
    cfg = InspectionConfig(model_type="hist_gradient_boosting", hgb_max_iter=20)
    model = InspectionRiskModel(cfg).fit(features, y)
    out = model.score_frame(features.head(50))
    assert model.booster_ is not None
    assert out["probability"].between(0, 1).all()
    assert out["reason"].isin(model.leaf_rules_["rule"]).all()
