"""The train_and_score entry point: one score row per customer, windows, input checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml.baselines import RULE_VERSION, rule_model_name
from ml.factors import SCORED_BY_RULE, train_and_score
from ml.registry import FACTORS

KEY_AND_MODEL = ("customer_id", "as_of_month", "model_name", "model_version")

EXTRA_COLUMNS = {
    "contribution": {"level", "membership_1", "membership_5"},
    "outage_sensitivity": {"probability", "reason_1", "reason_2", "reason_3"},
    "arrears": {"probability", "points", "grade", "reason_1", "reason_2", "reason_3"},
    "channel_activity": {"preferred_channel", "digital_tier"},
    "inspection": {"probability", "reason"},
}


@pytest.mark.parametrize("factor", FACTORS)
def test_one_score_row_per_scored_customer(factor, synthetic_marts):
    features_score = synthetic_marts.score[factor].sample(frac=1.0, random_state=1)
    result = train_and_score(
        factor, synthetic_marts.train[factor], synthetic_marts.outcomes, features_score
    )
    scores = result.scores
    assert len(scores) == len(features_score)
    assert scores["customer_id"].tolist() == features_score["customer_id"].tolist()
    assert {"customer_id", "as_of_month", "score", "tier", "model_name", "model_version"} <= set(
        scores.columns
    )
    assert EXTRA_COLUMNS[factor] <= set(scores.columns)
    assert scores["score"].between(0, 100).all()
    assert set(scores["tier"]) <= {"low", "medium", "high"}
    if result.scored_by == SCORED_BY_RULE:
        assert result.quality_failures
        assert (scores["model_name"] == rule_model_name(factor)).all()
        assert (scores["model_version"] == RULE_VERSION).all()
    else:
        assert (scores["model_name"] == f"powerseg_{factor}").all()
        assert (scores["model_version"] == "unregistered").all()
    # the trained model writes the same columns as the rule that may stand in for it
    own = result.trained_model.score_frame(features_score)
    assert set(own.columns) | set(KEY_AND_MODEL) == set(scores.columns)
    # whole customers are held out, a quarter of each label stratum rounded up
    assert result.row_counts["holdout_rows"] / result.row_counts["labelled_rows"] == pytest.approx(
        0.25, abs=0.01
    )
    assert result.windows.train_as_of_month == "2026-04"
    assert result.windows.score_as_of_month == "2026-07"


def test_supervised_windows_and_label_filtering(synthetic_marts):
    result = train_and_score(
        "arrears",
        synthetic_marts.train["arrears"],
        synthetic_marts.outcomes,
        synthetic_marts.score["arrears"],
    )
    assert (result.windows.outcome_window_start, result.windows.outcome_window_end) == (
        "2026-05",
        "2026-07",
    )
    known = synthetic_marts.outcomes["arrears_30d_next"].notna().sum()
    assert result.row_counts["labelled_rows"] == known
    assert result.metrics["ks"] > 0.4
    assert "tables/scorecard.csv" in result.tables


def test_open_outcome_windows_are_not_trained_on(synthetic_marts):
    outcomes = synthetic_marts.outcomes.assign(outcome_window_closed=False)
    with pytest.raises(ValueError, match="closed outcome window"):
        train_and_score(
            "outage_sensitivity",
            synthetic_marts.train["outage_sensitivity"],
            outcomes,
            synthetic_marts.score["outage_sensitivity"],
        )


def test_bad_inputs_are_clear_errors(synthetic_marts):
    train = synthetic_marts.train["inspection"]
    score = synthetic_marts.score["inspection"]
    with pytest.raises(ValueError, match="duplicate"):
        train_and_score(
            "inspection", train, synthetic_marts.outcomes, pd.concat([score, score.head(3)])
        )
    with pytest.raises(ValueError, match="cover_open_12m"):
        train_and_score(
            "inspection", train, synthetic_marts.outcomes, score.drop(columns="cover_open_12m")
        )
    with pytest.raises(ValueError, match="unknown factor"):
        train_and_score("charm", train, synthetic_marts.outcomes, score)
    with pytest.raises(ValueError, match="unknown inspection config"):
        train_and_score("inspection", train, synthetic_marts.outcomes, score, config={"depth": 3})


def test_config_dict_and_previous_scores(synthetic_marts):
    first = train_and_score(
        "outage_sensitivity",
        synthetic_marts.train["outage_sensitivity"],
        synthetic_marts.outcomes,
        synthetic_marts.score["outage_sensitivity"],
        config={"tiers": {"method": "cutoff", "high": 50, "medium": 25}},
    )
    high = first.scores["score"] >= 50
    assert (first.scores.loc[high, "tier"] == "high").all()
    second = train_and_score(
        "outage_sensitivity",
        synthetic_marts.train["outage_sensitivity"],
        synthetic_marts.outcomes,
        synthetic_marts.score["outage_sensitivity"],
        previous_scores=first.scores,
    )
    assert second.score_metrics["psi_vs_previous_scores"] == pytest.approx(0.0, abs=1e-9)


def test_hold_out_is_whole_customers_whatever_the_row_order():
    from ml.config import TrainingConfig
    from ml.training_data import split_holdout as _split

    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "customer_id": np.repeat([f"C{i:05d}" for i in range(400)], 3),
            "as_of_month": np.tile(pd.to_datetime(["2026-01-01", "2026-02-01", "2026-03-01"]), 400),
        }
    )
    labels = (rng.random(len(frame)) < 0.1).astype(int)
    (fit, fit_labels), (held, held_labels) = _split(frame, labels, TrainingConfig())
    assert not set(fit["customer_id"]) & set(held["customer_id"])
    assert held["customer_id"].nunique() == pytest.approx(100, abs=2)
    assert 0 < held_labels.sum() < labels.sum()
    order = rng.permutation(len(frame))
    (_, _), (held_again, _) = _split(frame.iloc[order], labels[order], TrainingConfig())
    assert set(held_again["customer_id"]) == set(held["customer_id"])


@pytest.mark.parametrize(
    ("customers", "positives", "why"),
    [
        (4, 2, "only 4 training rows"),  # the 800-customer extract's inspection labels
        (40, 0, "positive of"),  # no positive at all
        (40, 1, "positive of"),  # the one positive stays on the fit side: none held out
    ],
)
def test_thin_labels_are_too_few_labels_not_a_crash(customers, positives, why):
    from ml.config import TrainingConfig
    from ml.preprocessing import TooFewLabels
    from ml.training_data import split_holdout as _split

    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in range(customers)],
            "as_of_month": pd.Timestamp("2026-01-01"),
        }
    )
    labels = np.zeros(customers, dtype=int)
    labels[:positives] = 1
    with pytest.raises(TooFewLabels, match=why):
        _split(frame, labels, TrainingConfig())
    # unsupervised factors keep the plain error: too few rows is not about labels there
    with pytest.raises(ValueError, match="only 4 training rows") as plain:
        _split(frame.head(4), None, TrainingConfig())
    assert type(plain.value) is ValueError
