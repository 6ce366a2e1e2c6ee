"""One entry point for every factor model: train on a closed window, evaluate, track, score.

`train_and_score` is what the Dagster factor assets call; everything factor-specific (model,
label, metrics, promotion rule, logged artifacts, baseline) comes from the factor's registry entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ml import metrics as m
from ml.baselines import RULE_VERSION, RuleBaselineModel, baseline_metrics, rule_model_name
from ml.config import TrainingConfig, config_as_params
from ml.evaluation import HoldOut, auc_interval
from ml.preprocessing import KEY_COLUMNS, require_columns
from ml.registry import REGISTRY, Registry
from ml.tracking import FactorRun, QualityFloor, TrackingConfig, TrackingResult
from ml.training_data import (
    DataWindows,
    check_keys,
    data_windows,
    feature_psi,
    labelled_rows,
    months_of,
    numeric_inputs,
    split_holdout,
)

UNREGISTERED = "unregistered"
SCORED_BY_MODEL = "model"
SCORED_BY_RULE = "rule baseline"


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
    registry: Registry = REGISTRY,
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
    entry = registry[factor]
    cfg = entry.resolve_config(config)
    training = training or TrainingConfig()
    check_keys(features_train, "features_train")
    check_keys(features_score, "features_score")
    # the same training rows in any order train the same model
    features_train = features_train.sort_values(list(KEY_COLUMNS), ignore_index=True)
    for frame, what in ((features_train, "features_train"), (features_score, "features_score")):
        if frame.empty:
            raise ValueError(f"{factor} {what} has no rows")
    label = cfg.label if entry.supervised else None
    new_model = entry.model(cfg)
    require_columns(features_train, new_model.input_columns, f"{factor} features_train")
    require_columns(features_score, new_model.input_columns, f"{factor} features_score")

    if label is not None:
        if outcomes_train is None:
            raise ValueError(f"{factor} is supervised: outcomes_train with {label} is required")
        train_rows, labels = labelled_rows(features_train, outcomes_train, label)
    else:
        train_rows, labels = features_train, None
    (fit_features, fit_labels), (holdout_features, holdout_labels) = split_holdout(
        train_rows, labels, training
    )
    if label is not None:
        new_model.fit(fit_features, fit_labels)
    else:
        new_model.fit(fit_features)
    holdout = HoldOut(holdout_features, holdout_labels, features_score)
    supervised = label is not None
    evaluate_on_holdout = entry.evaluator()
    baselines, baseline_params = (
        baseline_metrics(
            entry.baseline, holdout_features, holdout_labels, numeric_inputs(new_model)
        )
        if supervised
        else ({}, {})
    )

    def evaluate(estimator) -> dict[str, float]:
        """Every candidate (new and champion) on the same hold-out, beside the same baselines."""
        result = evaluate_on_holdout(estimator, holdout, cfg)
        if supervised:
            result.update(auc_interval(estimator, holdout, training))
            result.update(baselines)
        return result

    holdout_metrics = evaluate(new_model)
    floor = QualityFloor(training.min_auc, training.min_holdout_positives) if supervised else None
    windows = data_windows(features_train, features_score, supervised, training)
    months_pooled = months_of(train_rows["as_of_month"])
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
    drift = feature_psi(train_rows, features_score, numeric_inputs(new_model))
    figures, tables, texts = entry.artifact_writer()(new_model, holdout, cfg, tracking is not None)
    tables["tables/feature_psi.csv"] = pd.DataFrame(
        {"feature": list(drift), "psi_training_vs_scoring": list(drift.values())}
    )

    def rule_scores() -> tuple[RuleBaselineModel, pd.DataFrame]:
        rule_model = RuleBaselineModel(factor, cfg, registry).fit(fit_features, fit_labels)
        return rule_model, score_customers(
            rule_model, features_score, rule_model_name(factor, registry), RULE_VERSION
        )

    failures = tuple(floor.failures(holdout_metrics)) if floor else ()

    def result_of(scores, score_metrics, scoring_model, scored_by, tracked) -> FactorResult:
        return FactorResult(
            factor, scores, holdout_metrics, score_metrics, scoring_model, new_model, windows,
            row_counts, tracked, tables, texts, scored_by, failures, months_pooled, drift,
        )  # fmt: skip

    if tracking is None:
        scoring_model, scored_by = new_model, SCORED_BY_MODEL
        if failures:
            scoring_model, scores = rule_scores()
            scored_by = SCORED_BY_RULE
        else:
            scores = score_customers(new_model, features_score, entry.model_name, UNREGISTERED)
        return result_of(
            scores, _score_metrics(scores, previous_scores), scoring_model, scored_by, None
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
            version, holdout_metrics, evaluate, entry.promotion, new_model, floor
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
    return result_of(scores, score_metrics, scoring_model, scored_by, result)
