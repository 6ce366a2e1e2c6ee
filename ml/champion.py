"""When a new factor model version becomes champion: the metric it must beat, the quality floors it
must pass, and the decision with its reason in words. Pure rules; ml.tracking moves the aliases.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class PromotionRule:
    """The primary metric (and a tie-breaking secondary one) a challenger must beat."""

    metric: str
    higher_is_better: bool = True
    secondary_metric: str | None = None
    secondary_higher_is_better: bool = True

    @staticmethod
    def _better(new: float, old: float, higher_is_better: bool) -> int:
        """1 if new is better, -1 if worse, 0 if tied (or not comparable)."""
        if not (np.isfinite(new) and np.isfinite(old)):
            return 1 if np.isfinite(new) and not np.isfinite(old) else 0
        if np.isclose(new, old, rtol=0, atol=1e-12):
            return 0
        return 1 if (new > old) == higher_is_better else -1

    def beats(self, new: dict[str, float], current: dict[str, float]) -> bool:
        primary = self._better(new[self.metric], current[self.metric], self.higher_is_better)
        if primary != 0 or self.secondary_metric is None:
            return primary > 0
        return (
            self._better(
                new[self.secondary_metric],
                current[self.secondary_metric],
                self.secondary_higher_is_better,
            )
            > 0
        )


@dataclass(frozen=True)
class QualityFloor:
    """What a supervised model version must show on its hold-out before it may score customers.

    The rule baseline is a hard bar (a model must never rank worse than the one-line rule); the
    best single feature is picked on the hold-out itself, so a model need only reach it within
    the noise of its own AUC (the upper end of the bootstrap interval).
    """

    min_auc: float = 0.55
    min_holdout_positives: int = 30

    def failures(self, metrics: Mapping[str, float]) -> list[str]:
        """Why `metrics` (auc, auc_high, holdout_positives, baselines) fall short; [] = pass."""
        found = []
        positives = int(metrics.get("holdout_positives", 0))
        if positives < self.min_holdout_positives:
            found.append(
                f"the hold-out has {positives} positives, fewer than the "
                f"{self.min_holdout_positives} needed to judge a model"
            )
        auc = float(metrics.get("auc", float("nan")))
        if not np.isfinite(auc) or auc <= self.min_auc:
            found.append(f"hold-out AUC {auc:.3f} is not above the floor {self.min_auc:.2f}")
            return found
        rule_auc = float(metrics.get("baseline_rule_auc", float("nan")))
        if np.isfinite(rule_auc) and auc < rule_auc:
            found.append(f"hold-out AUC {auc:.3f} is below the rule baseline's {rule_auc:.3f}")
        feature_auc = float(metrics.get("baseline_best_feature_auc", float("nan")))
        auc_high = float(metrics.get("auc_high", auc))
        if np.isfinite(feature_auc) and auc_high < feature_auc:
            found.append(
                f"hold-out AUC {auc:.3f} (90 % interval up to {auc_high:.3f}) is below the best "
                f"single feature's {feature_auc:.3f}"
            )
        return found


@dataclass(frozen=True)
class ChampionDecision:
    promoted: bool
    scoring_version: str | None  # None: no version passes the floors, the rule baseline scores
    previous_champion_version: str | None
    champion_metrics: dict[str, float] | None  # the previous champion on the same hold-out
    reason: str
    scoring_estimator: Any = field(repr=False, default=None)


@dataclass(frozen=True)
class ChampionStanding:
    """The current champion judged on the new version's hold-out (`version` None: there is none).

    `failures` are why it may no longer score: the quality floors it misses on this hold-out, or
    that it could not be evaluated at all.
    """

    version: str | None
    metrics: dict[str, float] | None = None
    failures: tuple[str, ...] = ()

    @property
    def usable(self) -> bool:
        return self.version is not None and not self.failures


def promotion(
    new_version: str,
    new_metrics: dict[str, float],
    new_failures: list[str],
    champion: ChampionStanding,
    rule: PromotionRule,
) -> tuple[bool, str]:
    """(promoted, reason): a version that fails the floors is never promoted; one that passes
    them replaces a missing or unusable champion, else it must beat the champion by `rule`."""
    current, champion_failures = champion.version, champion.failures
    floors = f"; quality floors: {'; '.join(new_failures)}" if new_failures else ""
    if new_failures:
        if champion.usable:
            return False, f"new v{new_version} kept as challenger{floors}"
        why = f" (champion v{current}: {'; '.join(champion_failures)})" if current else ""
        return False, (
            f"no version passes the quality floors{why}: new v{new_version} not "
            f"promoted{floors}; the rule baseline scores this month"
        )
    if current is None:
        return True, "first version of this model and it passes the quality floors"
    if not champion.usable:
        return True, f"{'; '.join(champion_failures)}; new v{new_version} passes them: promoted"
    promoted = rule.beats(new_metrics, champion.metrics)
    direction = "higher" if rule.higher_is_better else "lower"
    reason = (
        f"{rule.metric} ({direction} is better): new v{new_version} "
        f"{new_metrics[rule.metric]:.4f} vs champion v{current} "
        f"{champion.metrics[rule.metric]:.4f} on the same hold-out → "
        + ("promoted" if promoted else "kept as challenger")
    )
    return promoted, reason
