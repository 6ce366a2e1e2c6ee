"""One entry point per factor model: train on a closed window, evaluate, track, score customers.

`train_and_score` is what the Dagster factor assets call; everything factor-specific (labels,
metrics, promotion rule, logged artifacts) lives in the `FactorSpec` of that factor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ml import metrics as m
from ml import plots
from ml.arrears import ArrearsScorecard
from ml.baselines import RULE_VERSION, RuleBaselineModel, baseline_metrics, rule_model_name
from ml.channel_activity import ChannelActivityModel
from ml.config import FACTORS, TrainingConfig, config_as_params, resolve_config
from ml.contribution import ContributionModel
from ml.inspection import InspectionRiskModel
from ml.outage_sensitivity import OutageSensitivityModel
from ml.preprocessing import KEY_COLUMNS, TooFewLabels, numeric_matrix, require_columns
from ml.tracking import FactorRun, PromotionRule, QualityFloor, TrackingConfig, TrackingResult

UNREGISTERED = "unregistered"
SCORED_BY_MODEL = "model"
SCORED_BY_RULE = "rule baseline"


@dataclass(frozen=True)
class HoldOut:
    """The rows every candidate model (new and champion) is judged on."""

    features: pd.DataFrame
    labels: np.ndarray | None = None
    realised_value: np.ndarray | None = None  # contribution: revenue realised later
    score_features: pd.DataFrame | None = None  # channel activity: the month being scored


@dataclass(frozen=True)
class DataWindows:
    train_as_of_month: str
    score_as_of_month: str
    outcome_window_start: str | None = None
    outcome_window_end: str | None = None

    def as_params(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class FactorResult:
    factor: str
    scores: pd.DataFrame  # one row per row of features_score
    metrics: dict[str, float]  # the new model on the hold-out
    score_metrics: dict[str, float]  # the scored month: rows, mean score, tier shares, PSI
    model: Any  # the estimator that produced `scores` (the champion if the new one lost)
    trained_model: Any  # the estimator trained by this call
    windows: DataWindows
    row_counts: dict[str, int]
    tracking: TrackingResult | None = None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    scored_by: str = SCORED_BY_MODEL  # or SCORED_BY_RULE when no version passed the floors
    quality_failures: tuple[str, ...] = ()  # why the new version fell short of the floors
    training_months: tuple[str, ...] = ()  # the as-of months pooled for training ('YYYY-MM')
    feature_psi: dict[str, float] = field(default_factory=dict)  # training rows vs scored month

    @property
    def model_version(self) -> str:
        return str(self.scores["model_version"].iloc[0]) if len(self.scores) else UNREGISTERED


@dataclass(frozen=True)
class FactorSpec:
    name: str
    estimator: Callable[[Any], Any]
    label: Callable[[Any], str | None]  # the fct_outcomes column, None for unsupervised factors
    evaluate: Callable[[Any, HoldOut, Any], dict[str, float]]
    rule: PromotionRule
    # (estimator, hold-out, config, with_figures) -> (figures, tables, texts) keyed by file path
    artifacts: Callable[[Any, HoldOut, Any, bool], tuple[dict, dict, dict]]


# ---------------------------------------------------------------- evaluation per factor


def _evaluate_classifier(estimator, holdout: HoldOut, top_k_share: float) -> dict[str, float]:
    """Discrimination, ranking and calibration of a supervised factor on its labelled hold-out."""
    y = holdout.labels
    probability = estimator.predict_proba(holdout.features)[:, 1]
    report = m.calibration(y, probability)
    if np.unique(y).size < 2:
        # a tiny label set (few inspections) can leave one class in the hold-out: rank metrics
        # are undefined, which the promotion rule treats as "not better"
        nan = float("nan")
        return {
            "auc": nan,
            "ks": nan,
            "gini": nan,
            "precision_at_k": nan,
            "lift_at_k": nan,
            "brier": report.brier,
            "expected_calibration_error": report.expected_calibration_error,
            "holdout_positive_rate": float(np.mean(y)),
            "holdout_positives": float(np.sum(y)),
        }
    return {
        "auc": m.roc_auc(y, probability),
        "ks": m.ks_statistic(y, probability),
        "gini": m.gini(y, probability),
        "precision_at_k": m.precision_at_k(y, probability, top_k_share),
        "lift_at_k": m.lift_at_k(y, probability, top_k_share),
        "brier": report.brier,
        "expected_calibration_error": report.expected_calibration_error,
        "holdout_positive_rate": float(np.mean(y)),
        "holdout_positives": float(np.sum(y)),
    }


def _auc_interval(estimator, holdout: HoldOut, training: TrainingConfig) -> dict[str, float]:
    if np.unique(holdout.labels).size < 2:
        return {"auc_low": float("nan"), "auc_high": float("nan")}
    low, high = m.bootstrap_auc_interval(
        holdout.labels,
        estimator.predict_proba(holdout.features)[:, 1],
        training.auc_interval_level,
        training.bootstrap_rounds,
        training.seed,
    )
    return {"auc_low": low, "auc_high": high}


def _evaluate_contribution(estimator: ContributionModel, holdout: HoldOut, cfg) -> dict[str, float]:
    """Primary `value_agreement` = w · normalised partition coefficient (how clear the levels are)
    + (1 − w) · Spearman(score, revenue of the same customers in the scored month)."""
    memberships = estimator.predict_memberships(holdout.features)
    score = estimator.score_from_memberships(memberships)
    fpc_normalised = m.normalised_partition_coefficient(memberships)
    rank_agreement = m.spearman(score, holdout.realised_value)
    rank_term = rank_agreement if np.isfinite(rank_agreement) else 0.0
    return {
        "value_agreement": cfg.fpc_weight * fpc_normalised + (1 - cfg.fpc_weight) * rank_term,
        "fuzzy_partition_coefficient": m.fuzzy_partition_coefficient(memberships),
        "fuzzy_partition_coefficient_normalised": fpc_normalised,
        "spearman_realised_revenue": rank_agreement,
        "silhouette": m.silhouette(
            estimator.transform(holdout.features),
            memberships.argmax(axis=1),
            cfg.silhouette_sample,
            cfg.seed,
        ),
    }


def _evaluate_channel(estimator: ChannelActivityModel, holdout: HoldOut, cfg) -> dict[str, float]:
    """Primary `psi_between_months`: PSI of the model's own index between the hold-out of the
    training month and the scored month — a stable index moves little when customers do not."""
    train_index = estimator.predict(holdout.features)
    score_index = estimator.predict(holdout.score_features)
    return {
        "psi_between_months": m.population_stability_index(train_index, score_index),
        "mean_index_train_month": float(np.mean(train_index)),
        "mean_index_score_month": float(np.mean(score_index)),
    }


# ---------------------------------------------------------------- logged artifacts per factor


def _classifier_artifacts(estimator, holdout: HoldOut, factor: str, with_figures: bool):
    probability = estimator.predict_proba(holdout.features)[:, 1]
    outcome = np.where(holdout.labels.astype(bool), "outcome=1", "outcome=0")
    figures = (
        {
            "plots/roc_holdout.png": plots.roc_figure(
                holdout.labels, probability, f"{factor}: ROC on the hold-out"
            ),
            "plots/score_by_outcome.png": plots.score_distribution_figure(
                100 * probability, outcome, f"{factor}: score by outcome (hold-out)"
            ),
        }
        if with_figures
        else {}
    )
    tables = {"tables/calibration_deciles.csv": m.calibration_table(holdout.labels, probability)}
    return figures, tables, {}


def _outage_artifacts(estimator: OutageSensitivityModel, holdout: HoldOut, cfg, with_figures):
    figures, tables, texts = _classifier_artifacts(
        estimator, holdout, "outage_sensitivity", with_figures
    )
    tables["tables/coefficients.csv"] = estimator.coefficients_
    return figures, tables, texts


def _arrears_artifacts(estimator: ArrearsScorecard, holdout: HoldOut, cfg, with_figures):
    figures, tables, texts = _classifier_artifacts(estimator, holdout, "arrears", with_figures)
    tables["tables/scorecard.csv"] = estimator.scorecard_
    tables["tables/information_values.csv"] = pd.DataFrame(
        {
            "feature": list(estimator.information_values_),
            "information_value": list(estimator.information_values_.values()),
            "selected": [f in estimator.selected_features_ for f in estimator.information_values_],
        }
    )
    if with_figures:
        figures["plots/points_by_outcome.png"] = plots.score_distribution_figure(
            estimator.points(holdout.features),
            np.where(holdout.labels.astype(bool), "arrears", "paid"),
            "arrears: scorecard points by outcome (hold-out)",
        )
    return figures, tables, texts


def _inspection_artifacts(estimator: InspectionRiskModel, holdout: HoldOut, cfg, with_figures):
    figures, tables, texts = _classifier_artifacts(estimator, holdout, "inspection", with_figures)
    texts["tree_rules.txt"] = estimator.rules_text_
    tables["tables/leaf_rules.csv"] = estimator.leaf_rules_
    return figures, tables, texts


def _contribution_artifacts(estimator: ContributionModel, holdout: HoldOut, cfg, with_figures):
    tables = {"tables/cluster_centroids.csv": estimator.centroid_values_}
    if not with_figures:
        return {}, tables, {}
    levels = pd.Series(estimator.predict(holdout.features)).value_counts().sort_index()
    figures = {
        "plots/cluster_centroids.png": plots.centroid_heatmap(
            estimator.centres_ / estimator.weights_,
            list(cfg.features),
            "contribution: level centroids (standardised)",
        ),
        "plots/level_sizes.png": plots.bar_figure(
            levels, "contribution: hold-out customers per level", "customers"
        ),
    }
    return figures, tables, {}


def _channel_artifacts(estimator: ChannelActivityModel, holdout: HoldOut, cfg, with_figures):
    weights = estimator.channel_weights_
    tables = {"tables/channel_weights.csv": weights.rename_axis("channel").reset_index()}
    if not with_figures:
        return {}, tables, {}
    train_index = estimator.predict(holdout.features)
    score_index = estimator.predict(holdout.score_features)
    figures = {
        "plots/channel_weights.png": plots.bar_figure(
            weights, f"channel weights ({estimator.weight_method_})", "weight"
        ),
        "plots/index_by_month.png": plots.score_distribution_figure(
            np.r_[train_index, score_index],
            np.r_[
                np.full(train_index.size, "training month"),
                np.full(score_index.size, "scored month"),
            ],
            "channel activity index: training vs scored month",
        ),
    }
    return figures, tables, {}


FACTOR_SPECS: dict[str, FactorSpec] = {
    "contribution": FactorSpec(
        name="contribution",
        estimator=ContributionModel,
        label=lambda cfg: None,
        evaluate=_evaluate_contribution,
        rule=PromotionRule("value_agreement", True, "spearman_realised_revenue", True),
        artifacts=_contribution_artifacts,
    ),
    "outage_sensitivity": FactorSpec(
        name="outage_sensitivity",
        estimator=OutageSensitivityModel,
        label=lambda cfg: cfg.label,
        evaluate=lambda est, h, cfg: _evaluate_classifier(est, h, cfg.top_k_share),
        rule=PromotionRule("auc", True, "brier", False),
        artifacts=_outage_artifacts,
    ),
    "arrears": FactorSpec(
        name="arrears",
        estimator=ArrearsScorecard,
        label=lambda cfg: cfg.label,
        evaluate=lambda est, h, cfg: _evaluate_classifier(est, h, cfg.top_k_share),
        rule=PromotionRule("ks", True, "auc", True),
        artifacts=_arrears_artifacts,
    ),
    "channel_activity": FactorSpec(
        name="channel_activity",
        estimator=ChannelActivityModel,
        label=lambda cfg: None,
        evaluate=_evaluate_channel,
        rule=PromotionRule("psi_between_months", False),
        artifacts=_channel_artifacts,
    ),
    "inspection": FactorSpec(
        name="inspection",
        estimator=InspectionRiskModel,
        label=lambda cfg: cfg.label,
        evaluate=lambda est, h, cfg: _evaluate_classifier(est, h, cfg.top_k_share),
        rule=PromotionRule("precision_at_k", True, "auc", True),
        artifacts=_inspection_artifacts,
    ),
}


# ---------------------------------------------------------------- data preparation


def _month_label(values: pd.Series) -> str:
    months = pd.to_datetime(values.dropna().unique())
    if len(months) == 0:
        return "unknown"
    labels = sorted({ts.strftime("%Y-%m") for ts in months})
    return labels[0] if len(labels) == 1 else f"{labels[0]}..{labels[-1]}"


def _data_windows(features_train, features_score, supervised: bool, training: TrainingConfig):
    windows = DataWindows(
        _month_label(features_train["as_of_month"]), _month_label(features_score["as_of_month"])
    )
    if not supervised:
        return windows
    months = pd.to_datetime(features_train["as_of_month"].dropna().unique())
    start = (months.min() + pd.DateOffset(months=1)).strftime("%Y-%m")
    end = (months.max() + pd.DateOffset(months=training.outcome_months)).strftime("%Y-%m")
    return DataWindows(windows.train_as_of_month, windows.score_as_of_month, start, end)


def _check_keys(frame: pd.DataFrame, what: str) -> None:
    require_columns(frame, KEY_COLUMNS, what)
    duplicated = frame.duplicated(list(KEY_COLUMNS))
    if duplicated.any():
        example = frame.loc[duplicated, list(KEY_COLUMNS)].iloc[0].tolist()
        raise ValueError(
            f"{what} has {int(duplicated.sum())} duplicate (customer_id, "
            f"as_of_month) rows, e.g. {example}"
        )


def _join_key(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": frame["customer_id"].astype(str).to_numpy(),
            "as_of_month": pd.to_datetime(frame["as_of_month"]).to_numpy(),
        }
    )


def labelled_rows(features: pd.DataFrame, outcomes: pd.DataFrame, label: str):
    """Training rows with a known label whose outcome window has closed, and the 0/1 labels."""
    require_columns(outcomes, [*KEY_COLUMNS, label], "outcomes frame")
    _check_keys(outcomes, "outcomes frame")
    outcome_columns = _join_key(outcomes)
    outcome_columns["_label"] = outcomes[label].to_numpy()
    if "outcome_window_closed" in outcomes.columns:
        closed = outcomes["outcome_window_closed"].astype("boolean").fillna(False)
        outcome_columns["_closed"] = closed.to_numpy(dtype=bool)
    else:
        outcome_columns["_closed"] = True
    joined = _join_key(features).merge(outcome_columns, on=list(KEY_COLUMNS), how="left")
    known = joined["_label"].notna().to_numpy() & joined["_closed"].fillna(False).to_numpy(bool)
    if not known.any():
        raise TooFewLabels(
            f"no training row has a known {label} with a closed outcome window; train on an "
            "earlier as-of month"
        )
    labels = joined.loc[known, "_label"].astype(bool).to_numpy().astype(int)
    return features.loc[known], labels


def _realised_value(holdout_features, features_score, value_feature) -> np.ndarray:
    """The value feature of the same customers in the scored month (later = realised)."""
    later = pd.DataFrame(
        {
            "customer_id": features_score["customer_id"].astype(str).to_numpy(),
            "_realised": pd.to_numeric(features_score[value_feature], errors="coerce").to_numpy(),
        }
    ).drop_duplicates("customer_id")
    keys = pd.DataFrame({"customer_id": holdout_features["customer_id"].astype(str).to_numpy()})
    return keys.merge(later, on="customer_id", how="left")["_realised"].to_numpy(dtype=float)


def holdout_fraction(customer_ids, seed: int) -> np.ndarray:
    """A fixed number in [0, 1) per customer id, from a keyed hash of the id and the seed.

    The same customer lands on the same side of the hold-out line in every run and every month,
    whatever the row order, so a champion trained last month never saw this month's hold-out
    customers.
    """
    keys = pd.Series(customer_ids, dtype="string").astype(str).to_numpy(dtype=object)
    hashed = pd.util.hash_array(keys, hash_key=f"powerseg{seed:08d}"[-16:].rjust(16, "0"))
    return (hashed >> np.uint64(11)).astype(np.float64) / float(2**53)


def _split(features: pd.DataFrame, labels, training: TrainingConfig):
    """Hold out whole customers, chosen by a keyed hash of their id, stratified on the label.

    Customers are ranked by their hash within each stratum (ever positive / never positive when
    there is a label) and the lowest `holdout_share` of each stratum (rounded down) is held out
    with all its rows. Row order never changes the split, and no customer is on both sides.
    """
    # a supervised factor on thin labels is skipped (TooFewLabels), not a failed run
    thin = TooFewLabels if labels is not None else ValueError
    if len(features) < training.min_training_rows:
        raise thin(
            f"only {len(features)} training rows; need at least {training.min_training_rows} to "
            "hold some out"
        )
    customers = pd.DataFrame(
        {
            "customer_id": features["customer_id"].astype(str).to_numpy(),
            "label": labels if labels is not None else 0,
        }
    )
    per_customer = customers.groupby("customer_id", sort=True)["label"].max().reset_index()
    per_customer["u"] = holdout_fraction(per_customer["customer_id"], training.seed)
    rank = per_customer.groupby("label")["u"].rank(method="first", pct=False)
    size = per_customer.groupby("label")["u"].transform("size")
    # rounded down, so a stratum of one customer (a single positive) stays in the fit
    per_customer["holdout"] = rank <= np.floor(training.holdout_share * size)
    held_out = (
        customers["customer_id"]
        .isin(per_customer.loc[per_customer["holdout"], "customer_id"])
        .to_numpy()
    )
    if held_out.all() or not held_out.any():
        raise thin(
            f"{per_customer.shape[0]} customers are too few to hold "
            f"{training.holdout_share:.0%} of them out"
        )
    fit_rows, holdout_rows = np.flatnonzero(~held_out), np.flatnonzero(held_out)
    fit_labels = labels[fit_rows] if labels is not None else None
    holdout_labels = labels[holdout_rows] if labels is not None else None
    if labels is not None:
        for side, side_labels in (("fit", fit_labels), ("hold-out", holdout_labels)):
            positives = int(np.sum(side_labels))
            if positives < training.min_positives_per_side or positives == len(side_labels):
                raise TooFewLabels(
                    f"the {side} set has {positives} positive of {len(side_labels)} labelled "
                    f"rows; a model needs at least {training.min_positives_per_side} positive "
                    "and one negative on each side of the hold-out line"
                )
    return (features.iloc[fit_rows], fit_labels), (features.iloc[holdout_rows], holdout_labels)


def _months(values: pd.Series) -> tuple[str, ...]:
    return tuple(sorted({ts.strftime("%Y-%m") for ts in pd.to_datetime(values.dropna().unique())}))


def _numeric_inputs(estimator) -> list[str]:
    """The estimator's numeric input columns (the categorical ones have no order to rank by)."""
    cfg = estimator.resolved_config
    return list(getattr(cfg, "numeric_features", None) or getattr(cfg, "features", ()))


def feature_psi(training: pd.DataFrame, scoring: pd.DataFrame, columns) -> dict[str, float]:
    """PSI of each numeric feature between the training rows and the scored month (deciles of
    the training values; a NULL is its own bin), so a model owner sees what moved."""
    result = {}
    train_matrix = numeric_matrix(training, list(columns))
    score_matrix = numeric_matrix(scoring, list(columns))
    for i, name in enumerate(columns):  # a loop over features, each vectorised
        train, score = train_matrix[:, i], score_matrix[:, i]
        if np.isnan(train).all() or np.isnan(score).all():
            continue
        # NULL becomes a value below every other, so a column filling up or emptying shows
        low = np.nanmin(np.r_[train, score]) - 1.0
        result[name] = m.population_stability_index(
            np.where(np.isnan(train), low, train), np.where(np.isnan(score), low, score)
        )
    return result


# ---------------------------------------------------------------- scoring


def score_customers(
    estimator: Any, features_score: pd.DataFrame, model_name: str, model_version: str
) -> pd.DataFrame:
    """One row per row of `features_score`: keys, the estimator's outputs, model name/version."""
    outputs = estimator.score_frame(features_score)
    scores = pd.concat(
        [features_score[list(KEY_COLUMNS)].reset_index(drop=True), outputs.reset_index(drop=True)],
        axis=1,
    )
    scores["model_name"] = model_name
    scores["model_version"] = str(model_version)
    return scores


def _score_metrics(scores: pd.DataFrame, previous_scores: pd.DataFrame | None) -> dict[str, float]:
    result = {"scored_rows": float(len(scores)), "scored_mean_score": float(scores["score"].mean())}
    if "tier" in scores.columns:
        for tier, share in scores["tier"].value_counts(normalize=True).items():
            result[f"scored_share_{tier}"] = float(share)
    if previous_scores is not None and len(previous_scores) and len(scores):
        require_columns(previous_scores, ["score"], "previous_scores")
        result["psi_vs_previous_scores"] = m.population_stability_index(
            previous_scores["score"].to_numpy(dtype=float), scores["score"].to_numpy(dtype=float)
        )
    return result


# ---------------------------------------------------------------- the entry point


def train_and_score(
    factor: str,
    features_train: pd.DataFrame,
    outcomes_train: pd.DataFrame | None,
    features_score: pd.DataFrame,
    *,
    previous_scores: pd.DataFrame | None = None,
    config: Any = None,
    training: TrainingConfig | None = None,
    tracking: TrackingConfig | None = None,
) -> FactorResult:
    """Train `factor` on `features_train`, judge it on a seeded 25 % hold-out, score the month.

    Supervised factors (outage_sensitivity, arrears, inspection) train on the rows of
    `features_train` whose label in `outcomes_train` is known and whose outcome window has
    closed — pass an earlier as-of month than the one scored. Unsupervised factors (contribution,
    channel_activity) fit on `features_train` too (`outcomes_train` may be None), so every factor
    has a hold-out on which a new version and the champion are compared.

    With `tracking`, the run is logged to MLflow and registered as `powerseg_<factor>`; the scores
    come from whichever version is champion after the comparison. `previous_scores` (the last
    published scores of this factor) adds a PSI drift metric.
    """
    if factor not in FACTORS:
        raise ValueError(f"unknown factor {factor!r}; expected one of {', '.join(FACTORS)}")
    spec = FACTOR_SPECS[factor]
    cfg = resolve_config(factor, config)
    training = training or TrainingConfig()
    _check_keys(features_train, "features_train")
    _check_keys(features_score, "features_score")
    # the same training rows in any order train the same model
    features_train = features_train.sort_values(list(KEY_COLUMNS), ignore_index=True)
    for frame, what in ((features_train, "features_train"), (features_score, "features_score")):
        if frame.empty:
            raise ValueError(f"{factor} {what} has no rows")
    label = spec.label(cfg)
    new_model = spec.estimator(cfg)
    require_columns(features_train, new_model.input_columns, f"{factor} features_train")
    require_columns(features_score, new_model.input_columns, f"{factor} features_score")

    if label is not None:
        if outcomes_train is None:
            raise ValueError(f"{factor} is supervised: outcomes_train with {label} is required")
        train_rows, labels = labelled_rows(features_train, outcomes_train, label)
    else:
        train_rows, labels = features_train, None
    (fit_features, fit_labels), (holdout_features, holdout_labels) = _split(
        train_rows, labels, training
    )
    if label is not None:
        new_model.fit(fit_features, fit_labels)
    else:
        new_model.fit(fit_features)
    holdout = HoldOut(
        features=holdout_features,
        labels=holdout_labels,
        realised_value=(
            _realised_value(holdout_features, features_score, cfg.value_feature)
            if factor == "contribution"
            else None
        ),
        score_features=features_score if factor == "channel_activity" else None,
    )
    supervised = label is not None
    baselines, baseline_params = (
        baseline_metrics(factor, holdout_features, holdout_labels, _numeric_inputs(new_model))
        if supervised
        else ({}, {})
    )

    def evaluate(estimator) -> dict[str, float]:
        """Every candidate (new and champion) on the same hold-out, beside the same baselines."""
        result = spec.evaluate(estimator, holdout, cfg)
        if supervised:
            result.update(_auc_interval(estimator, holdout, training))
            result.update(baselines)
        return result

    holdout_metrics = evaluate(new_model)
    floor = QualityFloor(training.min_auc, training.min_holdout_positives) if supervised else None
    windows = _data_windows(features_train, features_score, supervised, training)
    months_pooled = _months(train_rows["as_of_month"])
    row_counts = {
        "train_rows": len(features_train),
        "labelled_rows": len(train_rows),
        "fit_rows": len(fit_features),
        "holdout_rows": len(holdout_features),
        "score_rows": len(features_score),
        "training_months": len(months_pooled),
    }
    if labels is not None:
        row_counts["train_positive_rows"] = int(labels.sum())
    drift = feature_psi(train_rows, features_score, _numeric_inputs(new_model))
    figures, tables, texts = spec.artifacts(new_model, holdout, cfg, tracking is not None)
    tables["tables/feature_psi.csv"] = pd.DataFrame(
        {"feature": list(drift), "psi_training_vs_scoring": list(drift.values())}
    )

    def rule_scores() -> tuple[RuleBaselineModel, pd.DataFrame]:
        rule_model = RuleBaselineModel(factor, cfg).fit(fit_features, fit_labels)
        return rule_model, score_customers(
            rule_model, features_score, rule_model_name(factor), RULE_VERSION
        )

    failures = tuple(floor.failures(holdout_metrics)) if floor else ()
    if tracking is None:
        scoring_model, scored_by = new_model, SCORED_BY_MODEL
        if failures:
            scoring_model, scores = rule_scores()
            scored_by = SCORED_BY_RULE
        else:
            scores = score_customers(new_model, features_score, f"powerseg_{factor}", UNREGISTERED)
        return FactorResult(
            factor,
            scores,
            holdout_metrics,
            _score_metrics(scores, previous_scores),
            scoring_model,
            new_model,
            windows,
            row_counts,
            None,
            tables,
            texts,
            scored_by,
            failures,
            months_pooled,
            drift,
        )

    with FactorRun(tracking, factor, run_name=f"{factor} {windows.score_as_of_month}") as run:
        run.log_params(
            {
                **config_as_params(cfg),
                **config_as_params(training, "training."),
                **windows.as_params(),
                **baseline_params,
                "training_months": ",".join(months_pooled),
                "model_class": type(new_model).__name__,
            }
        )
        run.log_metrics(
            {
                **holdout_metrics,
                **{f"rows_{k}": v for k, v in row_counts.items()},
                **{f"psi_feature_{k}": v for k, v in drift.items()},
                **({"psi_feature_max": max(drift.values())} if drift else {}),
            }
        )
        for path, figure in figures.items():
            run.log_figure(figure, path)
        for path, table in tables.items():
            run.log_table(table, path)
        for path, text in texts.items():
            run.log_text(text, path)
        version = run.log_model(new_model, features_score)
        decision = run.decide_champion(
            version, holdout_metrics, evaluate, spec.rule, new_model, floor
        )
        if decision.scoring_version is None:
            scoring_model, scores = rule_scores()
            scored_by = SCORED_BY_RULE
        else:
            scoring_model = decision.scoring_estimator
            scores = score_customers(
                scoring_model, features_score, run.model_name, decision.scoring_version
            )
            scored_by = SCORED_BY_MODEL
        score_metrics = _score_metrics(scores, previous_scores)
        score_metrics["scored_by_rule_baseline"] = float(scored_by == SCORED_BY_RULE)
        run.log_metrics(score_metrics)
        result = run.result(version, holdout_metrics, decision)
    return FactorResult(
        factor,
        scores,
        holdout_metrics,
        score_metrics,
        scoring_model,
        new_model,
        windows,
        row_counts,
        result,
        tables,
        texts,
        scored_by,
        failures,
        months_pooled,
        drift,
    )
