"""How level-2 segments are configured, named and profiled: the factor index bars against the
population, names from the strongest factors, and segment ids carried over from last month.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from ml.registry import REGISTRY, Registry


def _words(registry: Registry) -> dict[str, tuple[str, str]]:
    """(word when the segment is clearly above the population, word when clearly below)."""
    return {f.score_column: f.segment_words for f in registry}


def _value_score(registry: Registry) -> str:
    return next(f.score_column for f in registry if f.segment_role == "value")


def _risk_scores(registry: Registry) -> tuple[str, ...]:
    return tuple(f.score_column for f in registry if f.segment_role == "risk")


FACTOR_SCORES = REGISTRY.score_columns
FACTOR_WORDS = _words(REGISTRY)
# the tier grid of a small category: value (high/low) x risk (high/low)
VALUE_SCORE = _value_score(REGISTRY)
RISK_SCORES = _risk_scores(REGISTRY)
LEVEL1_CATEGORIES = (
    "important",
    "key",
    "large_industrial",
    "large_commercial",
    "large_residential_community",
    "other",
)
CUSTOMER_SEGMENT_COLUMNS = (
    "as_of_month",
    "customer_id",
    "level1_category",
    "segment_id",
    "segment_name",
)
NAME_SEPARATOR = " · "
AVERAGE_NAME = "average profile"


@dataclass(frozen=True)
class SegmentationConfig:
    factors: tuple[str, ...] = FACTOR_SCORES
    max_clusters: int = 7
    min_cluster_share: float = 0.05  # of the category
    # categories smaller than this are split by the tier grid instead of clustered
    min_category_size: int = 200
    # k is chosen by silhouette on this many customers (a stable hash sample, same customers
    # every month), which keeps selection cheap at 10^6 customers and the choice reproducible
    selection_sample: int = 4000
    n_init: int = 4
    seed: int = 20261001
    # standardised scores are clipped to ±clip_sd before clustering: rare extreme scores (the few
    # customers with any inspection risk sit 3+ sd out) would otherwise claim a cluster of their own
    # under the minimum share and push k selection towards 2
    clip_sd: float = 2.5
    # a factor enters the name when |index| >= name_threshold; at most name_parts factors
    name_threshold: float = 0.25
    name_parts: int = 3
    # index = (segment mean - population mean) / (index_scale_sd * population sd), clipped to ±1
    index_scale_sd: float = 2.0
    # tier grid: value high = contribution at or above this population quantile; risk high =
    # arrears or inspection score above the risk quantile
    grid_value_quantile: float = 0.5
    grid_risk_quantile: float = 0.8
    # previous-month segments further apart than this (mean-score distance, score points) are
    # not the same segment when segment ids are carried over
    max_match_distance: float = 15.0
    # what names a segment and which scores the tier grid reads (from the factor registry)
    factor_words: Mapping[str, tuple[str, str]] = field(default_factory=lambda: dict(FACTOR_WORDS))
    value_score: str = VALUE_SCORE
    risk_scores: tuple[str, ...] = RISK_SCORES

    @classmethod
    def for_registry(cls, registry: Registry, **overrides) -> SegmentationConfig:
        """Segments on every factor of `registry`, named with its words."""
        return cls(
            factors=registry.score_columns,
            factor_words=_words(registry),
            value_score=_value_score(registry),
            risk_scores=_risk_scores(registry),
            **overrides,
        )

    def __post_init__(self) -> None:
        if not 1 <= self.max_clusters <= 7:
            raise ValueError("max_clusters must be between 1 and 7")
        if not 0 <= self.min_cluster_share < 0.5:
            raise ValueError("min_cluster_share must be in [0, 0.5)")


def index_columns(factors: tuple[str, ...] = FACTOR_SCORES) -> list[str]:
    return [f"{f.removesuffix('_score')}_index" for f in factors]


def mean_columns(factors: tuple[str, ...] = FACTOR_SCORES) -> list[str]:
    return [f"mean_{f}" for f in factors]


def factor_index(
    segment_mean: np.ndarray,
    population_mean: np.ndarray,
    population_sd: np.ndarray,
    scale_sd: float = 2.0,
) -> np.ndarray:
    """(segment mean − population mean) / (scale_sd × population sd), clipped to −1…+1.

    With the default scale ±1 means two population standard deviations or more; 0.5 is one.
    It depends only on the segment and the population, not on the other segments, so a segment's
    bars and name do not move when another segment changes.
    """
    denominator = scale_sd * np.where(population_sd > 0, population_sd, np.inf)
    return np.clip((segment_mean - population_mean) / denominator, -1.0, 1.0)


def name_from_index(index: np.ndarray, factors: tuple[str, ...], config: SegmentationConfig) -> str:
    """'high value · outage-sensitive': the strongest factors beyond the threshold, fixed order."""
    strong = [
        i
        for i in np.argsort(-np.abs(index), kind="stable")
        if abs(index[i]) >= config.name_threshold
    ]
    chosen = sorted(strong[: config.name_parts])  # factor order, so near-ties cannot reorder words
    words = [config.factor_words[factors[i]][0 if index[i] > 0 else 1] for i in chosen]
    return NAME_SEPARATOR.join(words) if words else AVERAGE_NAME


def name_clusters(
    values: np.ndarray,
    labels: np.ndarray,
    population_mean: np.ndarray,
    population_sd: np.ndarray,
    config: SegmentationConfig,
) -> np.ndarray:
    k = int(labels.max()) + 1
    means = np.vstack([values[labels == c].mean(axis=0) for c in range(k)])
    indices = factor_index(means, population_mean, population_sd, config.index_scale_sd)
    names = [name_from_index(row, config.factors, config) for row in indices]
    names = disambiguate(names, indices, means, config)
    return np.asarray(names, dtype=object)[labels]


def disambiguate(
    names: list[str], indices: np.ndarray, means: np.ndarray, config: SegmentationConfig
) -> list[str]:
    """Two clusters with the same name get more factors, then a value-ordered suffix."""
    names = list(names)
    for name in {n for n in names if names.count(n) > 1}:
        clash = [i for i, n in enumerate(names) if n == name]
        wider = replace(
            config, name_threshold=config.name_threshold / 2, name_parts=len(config.factors)
        )
        for i in clash:
            names[i] = name_from_index(indices[i], config.factors, wider)
    for name in {n for n in names if names.count(n) > 1}:
        clash = [i for i, n in enumerate(names) if n == name]
        # still alike: number them by mean value score, highest first (profile-derived order)
        value = (
            config.factors.index(config.value_score) if config.value_score in config.factors else 0
        )
        for rank, i in enumerate(sorted(clash, key=lambda i: -means[i, value]), start=1):
            names[i] = f"{name} ({rank})"
    return names


def segment_profiles(
    frame: pd.DataFrame,
    values: np.ndarray,
    population_mean: np.ndarray,
    population_sd: np.ndarray,
    methods: dict[str, str],
    config: SegmentationConfig,
) -> pd.DataFrame:
    keys = ["level1_category", "segment_name"]
    scores = pd.DataFrame(values, columns=mean_columns(config.factors))
    grouped = scores.groupby([frame[k] for k in keys], sort=True)
    profiles = grouped.mean()
    profiles.insert(0, "size", grouped.size())
    profiles = profiles.reset_index()
    category_size = profiles.groupby("level1_category")["size"].transform("sum")
    profiles.insert(3, "share", profiles["size"] / category_size)
    profiles.insert(4, "population_share", profiles["size"] / len(frame))
    profiles.insert(2, "segmentation_method", profiles["level1_category"].map(methods))
    means = profiles[mean_columns(config.factors)].to_numpy()
    indices = factor_index(means, population_mean, population_sd, config.index_scale_sd)
    for column, index in zip(index_columns(config.factors), indices.T, strict=True):
        profiles[column] = np.round(index, 4)
    profiles[mean_columns(config.factors)] = profiles[mean_columns(config.factors)].round(3)
    profiles["share"] = profiles["share"].round(4)
    profiles["population_share"] = profiles["population_share"].round(6)
    return profiles


def assign_segment_ids(
    profiles: pd.DataFrame, previous: pd.DataFrame | None, config: SegmentationConfig
) -> pd.DataFrame:
    """`<category>-NN`: numbered in name order, or carried over from the matching previous one."""
    profiles = profiles.sort_values(["level1_category", "segment_name"], ignore_index=True)
    profiles.insert(1, "segment_id", "")
    columns = mean_columns(config.factors)
    for category, rows in profiles.groupby("level1_category", sort=False).groups.items():
        rows = list(rows)
        ids: dict[int, str] = {}
        used_numbers: set[int] = set()
        if previous is not None and len(previous):
            before = previous[previous["level1_category"] == category]
            used_numbers = {_id_number(s) for s in before["segment_id"]}
            # the same name is the same profile (and, for tier grids, the same rule cell)
            previous_ids = dict(zip(before["segment_name"], before["segment_id"], strict=True))
            for row in rows:
                if profiles.at[row, "segment_name"] in previous_ids:
                    ids[row] = str(previous_ids[profiles.at[row, "segment_name"]])
            open_rows = [r for r in rows if r not in ids]
            open_before = before[~before["segment_id"].isin(list(ids.values()))]
            if open_rows and len(open_before):
                # renamed clusters keep their id when their mean scores barely moved
                cost = np.linalg.norm(
                    profiles.loc[open_rows, columns].to_numpy()[:, None, :]
                    - open_before[columns].to_numpy()[None, :, :],
                    axis=2,
                )
                for i, j in zip(*linear_sum_assignment(cost), strict=True):
                    if cost[i, j] <= config.max_match_distance:
                        ids[open_rows[i]] = str(open_before["segment_id"].iloc[j])
        number = max(used_numbers, default=0)
        for row in rows:  # unmatched segments: next free numbers, in name order
            if row not in ids:
                number += 1
                ids[row] = f"{category}-{number:02d}"
        profiles.loc[rows, "segment_id"] = [ids[r] for r in rows]
    return profiles


def _id_number(segment_id: str) -> int:
    try:
        return int(str(segment_id).rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return 0
