"""Fuzzy c-means value levels: blob recovery, level order, score arithmetic."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from ml.config import ContributionConfig
from ml.contribution import ContributionModel, fcm_memberships, fuzzy_c_means


def test_memberships_hand_computed():
    # 1-d point at 0, centres at -1 and 2, m = 2: u ∝ 1/d² = 1, 1/4 → 0.8, 0.2
    u = fcm_memberships(np.array([[0.0]]), np.array([[-1.0], [2.0]]), 2.0)
    assert u == pytest.approx(np.array([[0.8, 0.2]]))
    # m = 3: u ∝ (d²)^(-1/2) = 1, 1/2 → 2/3, 1/3
    u = fcm_memberships(np.array([[0.0]]), np.array([[-1.0], [2.0]]), 3.0)
    assert u == pytest.approx(np.array([[2 / 3, 1 / 3]]))


def test_fcm_recovers_well_separated_blobs():
    rng = np.random.default_rng(0)
    true_centres = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])
    truth = rng.integers(0, 3, 3000)
    points = true_centres[truth] + rng.normal(0, 0.5, (3000, 2))
    centres, memberships, objective, _ = fuzzy_c_means(points, 3, seed=1)
    assert adjusted_rand_score(truth, memberships.argmax(axis=1)) > 0.99
    nearest = np.linalg.norm(centres[:, None] - true_centres[None], axis=2).min(axis=0)
    assert nearest.max() < 0.1
    assert memberships.sum(axis=1) == pytest.approx(np.ones(3000))
    assert objective > 0


def _value_groups(n_per_group: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    group = np.repeat([0, 1, 2], n_per_group)
    revenue = np.exp(np.log([1e3, 1e4, 1e5])[group] + rng.normal(0, 0.2, group.size))
    frame = pd.DataFrame(
        {"revenue_12m_cny": revenue, "tenure_months": rng.integers(1, 200, group.size)}
    )
    frame["group"] = group
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def _three_level_model() -> ContributionModel:
    return ContributionModel(
        ContributionConfig(
            features=("revenue_12m_cny", "tenure_months"),
            log_features=("revenue_12m_cny",),
            feature_weights={"revenue_12m_cny": 3.0, "tenure_months": 0.2},
            n_levels=3,
        )
    )


def test_levels_are_ordered_by_centroid_value():
    frame = _value_groups(500, seed=4)
    model = _three_level_model().fit(frame)
    levels = model.predict(frame)
    # the lowest revenue group is level 1, the highest level 3
    assert (levels == frame["group"].to_numpy() + 1).mean() > 0.99
    centroid_revenue = model.centroid_values_["revenue_12m_cny"].to_numpy()
    assert np.all(np.diff(centroid_revenue) > 0)
    assert centroid_revenue == pytest.approx([1e3, 1e4, 1e5], rel=0.1)


def test_score_is_the_membership_weighted_level():
    frame = _value_groups(300, seed=5)
    model = _three_level_model().fit(frame)
    out = model.score_frame(frame)
    u = out[["membership_1", "membership_2", "membership_3"]].to_numpy()
    assert u.sum(axis=1) == pytest.approx(np.ones(len(frame)))
    expected = 100 * (u @ np.array([1, 2, 3]) - 1) / 2
    assert out["score"].to_numpy() == pytest.approx(expected, abs=0.005)
    assert out["level"].tolist() == (u.argmax(axis=1) + 1).tolist()
    by_group = out.groupby(frame["group"])["score"].mean()
    assert by_group[0] < 5 and 45 < by_group[1] < 55 and by_group[2] > 95
    # cut-off tiers from the config (70 / 40)
    assert set(out.loc[out["score"] >= 70, "tier"]) == {"high"}
    assert set(out.loc[out["score"] < 40, "tier"]) == {"low"}


def test_scores_a_later_month_with_the_fitted_scale():
    model = _three_level_model().fit(_value_groups(300, seed=6))
    later = pd.DataFrame({"revenue_12m_cny": [1e3, 1e5, np.nan], "tenure_months": [10, 10, 10]})
    out = model.score_frame(later)
    assert out["level"].tolist()[:2] == [1, 3]
    assert out["level"].iloc[2] == 2  # a missing revenue is imputed with the training median
    assert out.index.equals(later.index)


def test_synthetic_value_is_recovered(synthetic_marts):
    frame = synthetic_marts.train["contribution"]
    model = ContributionModel().fit(frame)
    score = model.score_frame(frame)["score"]
    rho = pd.Series(score.to_numpy()).corr(
        pd.Series(synthetic_marts.traits["log_value"].to_numpy()), method="spearman"
    )
    assert rho > 0.9
