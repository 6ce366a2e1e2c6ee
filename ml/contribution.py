"""Contribution value: fuzzy c-means on a customer's value indicators, levels ordered by value.

Each customer belongs to every value level with a membership degree; the score is the
membership-weighted level on 0-100 and the level is the one with the largest membership.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import ClusterMixin
from sklearn.cluster import kmeans_plusplus

from ml.config import ContributionConfig
from ml.estimator import FactorEstimator
from ml.preprocessing import Standardiser, assign_tiers, fit_tier_thresholds

MEMBERSHIP_FLOOR = 1e-12  # squared distance floor: a point on a centre belongs to it, no 0/0


def _memberships_by_centre(
    points_t: np.ndarray, point_norms: np.ndarray, centres: np.ndarray, fuzziness: float
) -> np.ndarray:
    """Memberships as a (centres × points) array.

    Centre-major layout on purpose: the per-point sums then run over a handful of long contiguous
    rows instead of millions of 5-element rows, which is several times faster in numpy.
    """
    squared = (centres**2).sum(axis=1)[:, None] - 2 * (centres @ points_t) + point_norms[None, :]
    squared = np.maximum(squared, MEMBERSHIP_FLOOR)
    if fuzziness == 2.0:
        inverse = 1.0 / squared  # the common case needs no pow
    else:
        # d^(-2/(m-1)) = (d²)^(-1/(m-1)); dividing by the smallest first avoids overflow
        inverse = (squared / squared.min(axis=0)) ** (-1.0 / (fuzziness - 1.0))
    return inverse / inverse.sum(axis=0)


def fcm_memberships(points: np.ndarray, centres: np.ndarray, fuzziness: float) -> np.ndarray:
    """u_ik = 1 / Σ_j (d_ik / d_ij)^(2/(m−1)) for every point i and centre k, as (points × c)."""
    points_t = np.ascontiguousarray(points.T)
    norms = (points_t**2).sum(axis=0)
    return _memberships_by_centre(points_t, norms, centres, fuzziness).T


def fuzzy_c_means(
    points: np.ndarray,
    n_clusters: int,
    fuzziness: float = 2.0,
    max_iter: int = 300,
    tol: float = 1e-4,
    n_init: int = 3,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, float, int]:
    """Fuzzy c-means (Bezdek), vectorised; the best of `n_init` k-means++ starts by objective.

    Stops when no membership changes by more than `tol`. Returns (centres, memberships as
    points × c, objective J_m = Σ u^m d², iterations of the best start).
    """
    if fuzziness <= 1:
        raise ValueError("fuzziness m must be > 1")
    if points.shape[0] < n_clusters:
        raise ValueError(f"need at least {n_clusters} rows to form {n_clusters} levels")
    rng = np.random.default_rng(seed)
    points_t = np.ascontiguousarray(points.T)
    norms = (points_t**2).sum(axis=0)
    best: tuple[np.ndarray, np.ndarray, float, int] | None = None
    for _ in range(n_init):
        centres, _ = kmeans_plusplus(points, n_clusters, random_state=int(rng.integers(2**31)))
        memberships = _memberships_by_centre(points_t, norms, centres, fuzziness)
        iteration = 0
        for iteration in range(1, max_iter + 1):  # noqa: B007 — the count is returned
            weights = memberships**fuzziness
            centres = (weights @ points) / weights.sum(axis=1)[:, None]
            updated = _memberships_by_centre(points_t, norms, centres, fuzziness)
            change = np.max(np.abs(updated - memberships))
            memberships = updated
            if change < tol:
                break
        squared = np.maximum(
            (centres**2).sum(axis=1)[:, None] - 2 * (centres @ points_t) + norms[None, :], 0.0
        )
        objective = float(np.sum(memberships**fuzziness * squared))
        if best is None or objective < best[2]:
            best = (centres, memberships.T, objective, iteration)
    assert best is not None
    return best


class ContributionModel(ClusterMixin, FactorEstimator):
    """Fuzzy c-means value levels on standardised (log where skewed), weighted value features.

    Fitted attributes: `centres_` (c × features, in the weighted standardised space, ordered from
    the lowest to the highest value level), `centroid_values_` (the same centres in original units,
    a DataFrame for logging), `n_iter_`, `objective_`.
    """

    config_class = ContributionConfig

    def _weighted(self, frame: pd.DataFrame) -> np.ndarray:
        return self.standardiser_.transform(frame)[:, : len(self.input_columns)] * (self.weights_)

    def fit(self, frame: pd.DataFrame, y=None) -> ContributionModel:
        cfg = self.resolved_config
        if cfg.value_feature not in cfg.features:
            raise ValueError(f"value_feature {cfg.value_feature!r} must be one of the features")
        if cfg.n_levels < 2:
            raise ValueError("n_levels must be at least 2")
        self.standardiser_ = Standardiser(cfg.features, cfg.log_features).fit(frame)
        self.weights_ = np.array([cfg.feature_weights.get(f, 1.0) for f in cfg.features])
        points = self._weighted(frame)
        if points.shape[0] > cfg.fit_sample_rows:
            rng = np.random.default_rng(cfg.seed)
            points = points[rng.choice(points.shape[0], cfg.fit_sample_rows, replace=False)]
        centres, _, objective, n_iter = fuzzy_c_means(
            points, cfg.n_levels, cfg.fuzziness, cfg.max_iter, cfg.tol, cfg.n_init, cfg.seed
        )
        original = self._to_original_units(centres)
        order = np.argsort(original[cfg.value_feature].to_numpy(), kind="stable")
        self.centres_ = centres[order]
        self.centroid_values_ = original.iloc[order].reset_index(drop=True)
        self.centroid_values_.insert(0, "level", np.arange(1, cfg.n_levels + 1))
        self.objective_ = objective
        self.n_iter_ = n_iter
        self.tier_thresholds_ = fit_tier_thresholds(
            self.score_from_memberships(self.predict_memberships(frame)), cfg.tiers
        )
        return self

    def _to_original_units(self, centres: np.ndarray) -> pd.DataFrame:
        st = self.standardiser_
        unweighted = centres / self.weights_
        values = unweighted * st.scale_ + st.mean_
        for i, feature in enumerate(self.resolved_config.features):
            if feature in self.resolved_config.log_features:
                values[:, i] = np.expm1(values[:, i])
        return pd.DataFrame(values, columns=list(self.resolved_config.features))

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """The weighted standardised feature space the clusters live in."""
        return self._weighted(frame)

    def predict_memberships(self, frame: pd.DataFrame) -> np.ndarray:
        """Membership degrees, columns = levels 1..c (lowest value first), rows sum to 1."""
        return fcm_memberships(self._weighted(frame), self.centres_, self.resolved_config.fuzziness)

    def score_from_memberships(self, memberships: np.ndarray) -> np.ndarray:
        """Membership-weighted level, rescaled so level 1 = 0 and level c = 100."""
        n_levels = memberships.shape[1]
        expected_level = memberships @ np.arange(1, n_levels + 1)
        return 100.0 * (expected_level - 1) / (n_levels - 1)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """The level with the largest membership (1 = lowest value)."""
        return self.predict_memberships(frame).argmax(axis=1) + 1

    def score_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        memberships = self.predict_memberships(frame)
        score = self.score_from_memberships(memberships)
        out = pd.DataFrame(
            {
                "score": np.round(score, 2),
                "level": memberships.argmax(axis=1) + 1,
                "tier": assign_tiers(score, self.tier_thresholds_),
            },
            index=frame.index,
        )
        for k in range(memberships.shape[1]):
            out[f"membership_{k + 1}"] = memberships[:, k]
        return out
