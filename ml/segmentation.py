"""Level-2 segmentation: behaviour clusters on the factor scores inside each level-1 category.

Segments are named from their profile against the population, so names stay put from month to month
when the structure does; profiles carry the −1…+1 factor index bars of the seed slides.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from threadpoolctl import threadpool_limits

from ml.labels import require_unique_customers, single_month
from ml.segment_naming import (
    AVERAGE_NAME,
    CUSTOMER_SEGMENT_COLUMNS,
    FACTOR_SCORES,
    FACTOR_WORDS,
    LEVEL1_CATEGORIES,
    NAME_SEPARATOR,
    SegmentationConfig,
    assign_segment_ids,
    factor_index,
    name_clusters,
    segment_profiles,
)

if TYPE_CHECKING:
    from ml.tracking import TrackingConfig

# what callers import from here: the entry points and the names segments are built from
__all__ = [
    "AVERAGE_NAME",
    "FACTOR_SCORES",
    "FACTOR_WORDS",
    "LEVEL1_CATEGORIES",
    "SegmentationConfig",
    "SegmentationResult",
    "factor_index",
    "log_segmentation_run",
    "profile_figure",
    "segment_customers",
    "segment_migration",
    "stable_sample",
]
EXPERIMENT = "segmentation"  # MLflow experiment `powerseg-segmentation` with the default prefix


@dataclass
class SegmentationResult:
    customer_segments: pd.DataFrame
    segment_profiles: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- entry point


def segment_customers(
    scores: pd.DataFrame,
    config: SegmentationConfig | None = None,
    previous_profiles: pd.DataFrame | None = None,
) -> SegmentationResult:
    """Segment one month: every customer gets exactly one segment inside its level-1 category.

    `previous_profiles` (last month's `segment_profiles`) lets matching segments keep their
    segment_id: same name first, then Hungarian matching on mean scores within
    `max_match_distance`; new segments take the next free numbers. Without it ids follow the
    name order.
    """
    config = config or SegmentationConfig()
    as_of_month = single_month(scores)
    require_unique_customers(scores)
    scores, not_scored = _neutral_for_unscored_factors(scores, config)
    _require_scores(scores, config)
    # sorted by customer so the result cannot depend on the order rows arrive in
    frame = scores.sort_values("customer_id", kind="stable").reset_index(drop=True)
    values = frame.loc[:, list(config.factors)].to_numpy(dtype="float64")
    population_mean = values.mean(axis=0)
    population_sd = values.std(axis=0)

    segment_names = np.empty(len(frame), dtype=object)
    methods: dict[str, str] = {}
    summary_categories: dict[str, dict[str, Any]] = {}
    for category in _categories_in_order(frame["level1_category"]):
        rows = np.flatnonzero(frame["level1_category"].to_numpy() == category)
        if len(rows) < config.min_category_size:
            names, info = _tier_grid(frame.iloc[rows], frame, config)
        else:
            labels, info = _cluster_category(values[rows], frame["customer_id"].iloc[rows], config)
            names = name_clusters(values[rows], labels, population_mean, population_sd, config)
        segment_names[rows] = names
        methods[category] = info["method"]
        summary_categories[category] = info | {"customers": len(rows)}

    frame["segment_name"] = segment_names
    profiles = segment_profiles(frame, values, population_mean, population_sd, methods, config)
    # the category's clustering quality on every row, so the stored table explains itself
    silhouettes = {c: info.get("silhouette", np.nan) for c, info in summary_categories.items()}
    profiles["category_silhouette"] = profiles["level1_category"].map(silhouettes).astype(float)
    profiles = assign_segment_ids(profiles, previous_profiles, config)
    ids = profiles.set_index(["level1_category", "segment_name"])["segment_id"]
    frame["segment_id"] = ids.reindex(
        pd.MultiIndex.from_arrays([frame["level1_category"], frame["segment_name"]])
    ).to_numpy()
    frame["as_of_month"] = as_of_month
    profiles.insert(0, "as_of_month", as_of_month)
    customer_segments = frame.loc[:, list(CUSTOMER_SEGMENT_COLUMNS)]
    summary = _summary(as_of_month, customer_segments, profiles, summary_categories)
    summary["factors_not_scored"] = not_scored
    return SegmentationResult(customer_segments, profiles, summary)


NEUTRAL_SCORE = 50.0


def _neutral_for_unscored_factors(scores: pd.DataFrame, config: SegmentationConfig):
    """A factor skipped this month (empty source, too few labels) has no score for anyone: it
    takes the neutral 50 for every customer, so it cannot split or name a segment. A factor
    missing for only some customers is still an error."""
    unscored = [f for f in config.factors if f in scores.columns and scores[f].isna().all()]
    if not unscored:
        return scores, []
    return scores.assign(**{f: NEUTRAL_SCORE for f in unscored}), unscored


def _require_scores(scores: pd.DataFrame, config: SegmentationConfig) -> None:
    missing = [c for c in ("level1_category", *config.factors) if c not in scores.columns]
    if missing:
        raise ValueError(f"scores lack column(s) {missing} needed for segmentation")
    nulls = scores.loc[:, ["level1_category", *config.factors]].isna().sum()
    if nulls.any():
        raise ValueError(f"scores have nulls in {nulls[nulls > 0].to_dict()}")
    unknown = sorted(set(scores["level1_category"]) - set(LEVEL1_CATEGORIES))
    if unknown:
        raise ValueError(f"unknown level1_category value(s) {unknown}; use {LEVEL1_CATEGORIES}")


def _categories_in_order(categories: pd.Series) -> list[str]:
    present = set(categories)
    return [c for c in LEVEL1_CATEGORIES if c in present]


# --------------------------------------------------------------------------- clustering


def stable_sample(customer_ids: pd.Series, size: int) -> np.ndarray:
    """Positions of up to `size` customers chosen by a fixed hash of their id.

    The same customers are drawn whatever the row order and, as long as they stay active, in
    every month, so k selection does not wobble with the draw.
    """
    hashes = pd.util.hash_pandas_object(customer_ids.astype(str), index=False).to_numpy()
    order = np.argsort(hashes, kind="stable")
    return order[: min(size, len(order))]


def _cluster_category(
    values: np.ndarray, customer_ids: pd.Series, config: SegmentationConfig
) -> tuple[np.ndarray, dict[str, Any]]:
    """KMeans on standardised, clipped scores; k by silhouette on a hash sample; small clusters
    merged."""
    n = len(values)
    spread = values.std(axis=0)
    standardised = (values - values.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    standardised = np.clip(standardised, -config.clip_sd, config.clip_sd)
    sample = stable_sample(customer_ids, config.selection_sample)
    sample_values = standardised[sample]

    silhouettes: dict[int, float] = {}
    centres_by_k: dict[int, np.ndarray] = {}
    eligible: list[int] = []
    # on a few thousand rows OpenMP threads cost more than they save (5x slower on a busy host)
    with threadpool_limits(limits=1):
        for k in range(2, min(config.max_clusters, len(sample) - 1) + 1):
            model = KMeans(k, n_init=config.n_init, random_state=config.seed).fit(sample_values)
            shares = np.bincount(model.labels_, minlength=k) / len(sample)
            silhouettes[k] = float(silhouette_score(sample_values, model.labels_))
            centres_by_k[k] = model.cluster_centers_
            if shares.min() >= config.min_cluster_share:
                eligible.append(k)
    if not silhouettes:
        return np.zeros(n, dtype=int), {"method": "single", "k": 1, "k_selected": 1}
    candidates = eligible or list(silhouettes)
    # highest silhouette; a tie goes to the smaller k (fewer segments for staff to learn)
    k_selected = max(candidates, key=lambda k: (round(silhouettes[k], 6), -k))

    centres = _canonical_order(centres_by_k[k_selected])
    labels, centres = _fit_full(standardised, centres)
    # a cluster under the minimum share is dissolved into its nearest neighbours until none is
    while len(centres) > 1:
        shares = np.bincount(labels, minlength=len(centres)) / n
        smallest = int(np.argmin(shares))
        if shares[smallest] >= config.min_cluster_share:
            break
        labels, centres = _fit_full(standardised, np.delete(centres, smallest, axis=0))
    k_final = len(centres)
    with threadpool_limits(limits=1):
        silhouette = (
            float(silhouette_score(sample_values, labels[sample])) if k_final > 1 else float("nan")
        )
    info = {
        "method": "kmeans",
        "k": k_final,
        "k_selected": k_selected,
        "silhouette": round(silhouette, 4),
        "silhouette_by_k": {k: round(s, 4) for k, s in silhouettes.items()},
    }
    return labels, info


def _canonical_order(centres: np.ndarray) -> np.ndarray:
    # cluster numbers mean nothing; a fixed order keeps the refit and merges reproducible
    return centres[np.lexsort(centres.T[::-1])]


def _fit_full(values: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(centres) == 1:
        return np.zeros(len(values), dtype=int), values.mean(axis=0, keepdims=True)
    model = KMeans(len(centres), init=centres, n_init=1, max_iter=100).fit(values)
    return model.labels_.astype(int), model.cluster_centers_


def _tier_grid(
    category: pd.DataFrame, population: pd.DataFrame, config: SegmentationConfig
) -> tuple[np.ndarray, dict[str, Any]]:
    """Value high/low × risk high/low against population cut-offs, coarsened if a cell is small."""
    value_cut = population[config.value_score].quantile(config.grid_value_quantile)
    value = np.where(category[config.value_score] >= value_cut, "high value", "low value")
    risky = np.zeros(len(category), dtype=bool)
    for column in config.risk_scores:
        cut = population[column].quantile(config.grid_risk_quantile)
        # strictly above: most customers have an inspection score of 0, so the cut is often 0
        risky |= (category[column] > cut).to_numpy()
    risk = np.where(risky, "high risk", "low risk")
    grids = (
        ("value x risk", np.char.add(np.char.add(value.astype(str), NAME_SEPARATOR), risk)),
        ("value", value.astype(str)),
        ("single", np.full(len(category), "all customers")),
    )
    for grid, names in grids:
        _, counts = np.unique(names, return_counts=True)
        if counts.min() / len(names) >= config.min_cluster_share or grid == "single":
            info = {"method": "tier_grid", "grid": grid, "k": int(len(counts))}
            return names.astype(object), info
    raise AssertionError("unreachable: the single grid always qualifies")


def _summary(
    as_of_month: pd.Timestamp,
    customer_segments: pd.DataFrame,
    profiles: pd.DataFrame,
    categories: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    for category, info in categories.items():
        rows = profiles[profiles["level1_category"] == category]
        info["sizes"] = dict(zip(rows["segment_id"], rows["size"].astype(int), strict=True))
        info["min_share"] = round(float(rows["share"].min()), 4)
    metrics: dict[str, float] = {
        "customers": float(len(customer_segments)),
        "segments": float(len(profiles)),
    }
    for category, info in categories.items():
        metrics[f"k_{category}"] = float(info["k"])
        if info.get("silhouette") is not None and np.isfinite(info.get("silhouette", np.nan)):
            metrics[f"silhouette_{category}"] = float(info["silhouette"])
    return {
        "as_of_month": str(as_of_month.date()),
        "customers": len(customer_segments),
        "segments": len(profiles),
        "categories": categories,
        "metrics": metrics,
    }


# --------------------------------------------------------------------------- migration and figure


def segment_migration(
    previous_segments: pd.DataFrame, current_segments: pd.DataFrame
) -> pd.DataFrame:
    """How many customers moved from each segment last month to each segment this month.

    Only customers present in both months count (new and departed customers are not moves).
    """
    previous_month = single_month(previous_segments, "previous_segments")
    current_month = single_month(current_segments, "current_segments")
    joined = previous_segments[["customer_id", "segment_id"]].merge(
        current_segments[["customer_id", "segment_id"]],
        on="customer_id",
        suffixes=("_from", "_to"),
        validate="one_to_one",
    )
    moves = (
        joined.groupby(["segment_id_from", "segment_id_to"], sort=True)
        .size()
        .rename("customers")
        .reset_index()
        .rename(columns={"segment_id_from": "from_segment_id", "segment_id_to": "to_segment_id"})
    )
    moves.insert(0, "previous_as_of_month", previous_month)
    moves.insert(0, "as_of_month", current_month)
    return moves


def profile_figure(segment_profiles: pd.DataFrame, columns: int = 4) -> Figure:
    """One small bar chart per segment: each factor's index on −1…+1 (the seed-slide view)."""
    index_cols = [c for c in segment_profiles.columns if c.endswith("_index")]
    labels = [c.removesuffix("_index").replace("_", "\n") for c in index_cols]
    n = max(len(segment_profiles), 1)
    columns = min(columns, n)
    rows = int(np.ceil(n / columns))
    figure = Figure(figsize=(3.2 * columns, 2.8 * rows))
    axes_grid = np.atleast_1d(figure.subplots(rows, columns, squeeze=False)).ravel()
    for axes, (_, segment) in zip(axes_grid, segment_profiles.iterrows(), strict=False):
        values = segment[index_cols].to_numpy(dtype=float)
        axes.bar(labels, values, color=np.where(values >= 0, "#c0392b", "#2471a3"))
        axes.axhline(0, color="black", linewidth=0.6)
        axes.set_ylim(-1.05, 1.05)
        title = f"{segment['segment_id']} ({segment['share']:.0%})\n{segment['segment_name']}"
        axes.set_title(title, fontsize=8)
        axes.tick_params(axis="x", labelsize=6)
        axes.tick_params(axis="y", labelsize=7)
    for axes in axes_grid[len(segment_profiles) :]:
        axes.set_visible(False)
    figure.suptitle("Factor index against the population (−1…+1)")
    figure.tight_layout()
    return figure


# --------------------------------------------------------------------------- MLflow


@dataclass(frozen=True)
class SegmentationRun:
    tracking_uri: str
    experiment_id: str
    experiment_name: str
    run_id: str


def log_segmentation_run(
    result: SegmentationResult,
    tracking: TrackingConfig,
    config: SegmentationConfig | None = None,
    run_name: str | None = None,
) -> SegmentationRun:
    """One MLflow run per segmented month: the configuration, k and silhouette per category,
    segment sizes, the profile table and the −1…+1 profile plot."""
    from ml.tracking import FactorRun

    config = config or SegmentationConfig()
    summary = result.summary
    with FactorRun(tracking, EXPERIMENT, run_name or f"segments {summary['as_of_month']}") as run:
        run.log_params(
            {"as_of_month": summary["as_of_month"]}
            | {
                k: v
                for k, v in asdict(config).items()
                if k not in ("factors", "factor_words", "value_score", "risk_scores")
            }
            | {"factors": ",".join(config.factors)}
            | {
                f"method_{category}": info["method"]
                for category, info in summary["categories"].items()
            }
        )
        sizes = result.segment_profiles.set_index("segment_id")["size"]
        run.log_metrics(summary["metrics"] | {f"size_{s}": float(n) for s, n in sizes.items()})
        run.log_figure(profile_figure(result.segment_profiles), "segment_profiles.png")
        run.log_table(result.segment_profiles, "segment_profiles.csv")
        run.log_text(json.dumps(summary, indent=2, default=str), "segmentation_summary.json")
        return SegmentationRun(
            tracking_uri=tracking.tracking_uri,
            experiment_id=run.experiment_id,
            experiment_name=tracking.experiment_name(EXPERIMENT),
            run_id=run.run_id,
        )
