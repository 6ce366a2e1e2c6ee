"""Figures logged with every factor model run: ROC, score distributions, centroids, weights.

Built on `matplotlib.figure.Figure` directly (no pyplot), so nothing depends on or changes the
process-wide backend and no window can ever open on a server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.metrics import roc_curve

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _figure(figsize: tuple[float, float]) -> Figure:
    # imported on first use: scoring without tracking never draws, so never pays the import
    from matplotlib.figure import Figure

    return Figure(figsize=figsize)


def roc_figure(y_true, score, title: str) -> Figure:
    fpr, tpr, _ = roc_curve(np.asarray(y_true).astype(int), np.asarray(score, dtype=float))
    figure = _figure((5, 5))
    axes = figure.subplots()
    axes.plot(fpr, tpr, label="model")
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="random")
    axes.set(xlabel="false positive rate", ylabel="true positive rate", title=title)
    axes.legend(loc="lower right")
    return figure


def score_distribution_figure(score, groups, title: str, bins: int = 40) -> Figure:
    """Overlaid histograms of the score per group (outcome 0/1, or training vs scored month)."""
    score = np.asarray(score, dtype=float)
    groups = np.asarray(groups)
    figure = _figure((6, 4))
    axes = figure.subplots()
    edges = np.histogram_bin_edges(score, bins=bins)
    for group in pd.unique(groups):
        axes.hist(score[groups == group], bins=edges, alpha=0.5, density=True, label=str(group))
    axes.set(xlabel="score", ylabel="density", title=title)
    axes.legend()
    return figure


def bar_figure(values: pd.Series, title: str, ylabel: str) -> Figure:
    figure = _figure((6, 4))
    axes = figure.subplots()
    axes.bar([str(i) for i in values.index], values.to_numpy(dtype=float))
    axes.set(title=title, ylabel=ylabel)
    axes.tick_params(axis="x", labelrotation=30)
    figure.tight_layout()
    return figure


def centroid_heatmap(centres: np.ndarray, feature_names: list[str], title: str) -> Figure:
    """Cluster centres in the standardised space: level per row, feature per column."""
    figure = _figure((1.0 + 0.9 * len(feature_names), 1.5 + 0.5 * centres.shape[0]))
    axes = figure.subplots()
    limit = float(np.max(np.abs(centres))) or 1.0
    image = axes.imshow(centres, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    axes.set_xticks(range(len(feature_names)), feature_names, rotation=45, ha="right")
    axes.set_yticks(range(centres.shape[0]), [f"level {i + 1}" for i in range(centres.shape[0])])
    axes.set_title(title)
    figure.colorbar(image, ax=axes)
    figure.tight_layout()
    return figure
