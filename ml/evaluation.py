"""How a factor's candidate models are judged on their hold-out, and what each logs to MLflow.

A supervised factor uses the classifier's metrics and artifacts; the others name their own in the
factor registry (ml/registry.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml import metrics as m
from ml import plots
from ml.config import TrainingConfig


@dataclass(frozen=True)
class HoldOut:
    """The rows every candidate model (new and champion) is judged on."""

    features: pd.DataFrame
    labels: np.ndarray | None = None
    # the month being scored: what "later" means for a value realised after the training month,
    # and the other side of a month-to-month stability metric
    score_features: pd.DataFrame | None = None


def realised_value(holdout_features, features_score, value_feature) -> np.ndarray:
    """The value feature of the same customers in the scored month (later = realised)."""
    later = pd.DataFrame(
        {
            "customer_id": features_score["customer_id"].astype(str).to_numpy(),
            "_realised": pd.to_numeric(features_score[value_feature], errors="coerce").to_numpy(),
        }
    ).drop_duplicates("customer_id")
    keys = pd.DataFrame({"customer_id": holdout_features["customer_id"].astype(str).to_numpy()})
    return keys.merge(later, on="customer_id", how="left")["_realised"].to_numpy(dtype=float)


# ---------------------------------------------------------------- evaluation per factor


def evaluate_classifier(estimator, holdout: HoldOut, top_k_share: float) -> dict[str, float]:
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


def auc_interval(estimator, holdout: HoldOut, training: TrainingConfig) -> dict[str, float]:
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


def evaluate_contribution(estimator, holdout: HoldOut, cfg) -> dict[str, float]:
    """Primary `value_agreement` = w · normalised partition coefficient (how clear the levels are)
    + (1 − w) · Spearman(score, revenue of the same customers in the scored month)."""
    memberships = estimator.predict_memberships(holdout.features)
    score = estimator.score_from_memberships(memberships)
    fpc_normalised = m.normalised_partition_coefficient(memberships)
    realised = realised_value(holdout.features, holdout.score_features, cfg.value_feature)
    rank_agreement = m.spearman(score, realised)
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


def evaluate_channel(estimator, holdout: HoldOut, cfg) -> dict[str, float]:
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


def classifier_artifacts(estimator, holdout: HoldOut, factor: str, with_figures: bool):
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


def outage_artifacts(estimator, holdout: HoldOut, cfg, with_figures):
    figures, tables, texts = classifier_artifacts(
        estimator, holdout, "outage_sensitivity", with_figures
    )
    tables["tables/coefficients.csv"] = estimator.coefficients_
    return figures, tables, texts


def arrears_artifacts(estimator, holdout: HoldOut, cfg, with_figures):
    figures, tables, texts = classifier_artifacts(estimator, holdout, "arrears", with_figures)
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


def inspection_artifacts(estimator, holdout: HoldOut, cfg, with_figures):
    figures, tables, texts = classifier_artifacts(estimator, holdout, "inspection", with_figures)
    texts["tree_rules.txt"] = estimator.rules_text_
    tables["tables/leaf_rules.csv"] = estimator.leaf_rules_
    return figures, tables, texts


def contribution_artifacts(estimator, holdout: HoldOut, cfg, with_figures):
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


def channel_artifacts(estimator, holdout: HoldOut, cfg, with_figures):
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
