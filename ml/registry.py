"""The factor registry: one declarative entry per factor, from which everything else is derived.

The Dagster factor assets, their skip frames and score-table schemas, the mart quality gates, the
level-2 segmentation, the generated dbt model `customer_factor_scores` and its yml all read these
entries. Adding a factor is one entry here, one model module in `ml/` and one feature mart in dbt.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from ml import evaluation as ev
from ml.arrears import ArrearsScorecard
from ml.baseline_rules import ARREARS_RULE, INSPECTION_RULE, OUTAGE_RULE, BaselineRule
from ml.champion import PromotionRule
from ml.channel_activity import ChannelActivityModel
from ml.config import (
    ArrearsConfig,
    ChannelActivityConfig,
    ContributionConfig,
    InspectionConfig,
    OutageSensitivityConfig,
    TierRule,
)
from ml.contribution import ContributionModel
from ml.inspection import InspectionRiskModel
from ml.outage_sensitivity import OutageSensitivityModel

# A factor that could not be scored this month (an empty source table, too few labels) writes its
# customers with no score and this in every categorical output, so the joins downstream hold.
NOT_SCORED_TIER = "not_scored"
SCORE_RANGE = (0.0, 100.0)
PROBABILITY_RANGE = (0.0, 1.0)


@dataclass(frozen=True)
class ScoreColumn:
    """A column of `scores.<factor>_scores` beyond the key and the model name/version."""

    name: str
    dtype: Literal["Float64", "Int64", "string"]
    # what the quality gate expects of it in a scored month
    range: tuple[float | None, float | None] | None = None
    nullable: bool = False  # may be null in scored rows (a customer with no reason)
    # a categorical output that says NOT_SCORED_TIER (never null) when the factor is skipped
    says_not_scored: bool = False


@dataclass(frozen=True)
class PublishedColumn:
    """A column of `marts.customer_factor_scores`: one score column, or several joined by ', '."""

    name: str
    sources: tuple[str, ...]
    description: str
    nullable: bool = False  # a warning-free null (reasons a customer may not have)


@dataclass(frozen=True)
class Factor:
    name: str
    description: str  # one line: what the score table holds
    method: str  # the model, as a model owner would name it
    config: type  # the dataclass of defaults (ml/config.py)
    model: type  # the estimator: fit, score_frame, input_columns, resolved_config
    feature_mart: str  # marts.<feature_mart>: one row per active customer and as-of month
    # staged tables it cannot be modelled without; one empty skips the factor for the month
    required_sources: tuple[str, ...]
    supervised: bool  # trained on a label of marts.fct_outcomes (the config's `label`)
    promotion: PromotionRule
    score_columns: tuple[ScoreColumn, ...]
    published: tuple[PublishedColumn, ...]
    # (word when a segment is clearly above the population, word when clearly below)
    segment_words: tuple[str, str]
    # which grid axis the factor is when a small category is split by tiers instead of clustered
    segment_role: Literal["value", "risk"] | None = None
    # supervised factors pool every closed month of the history window; the others train on the
    # newest closed month only
    pools_closed_months: bool = False
    baseline: BaselineRule | None = None  # the one-line rule a supervised model must beat
    # (estimator, hold-out, config) -> metrics; (estimator, hold-out, config, with_figures) ->
    # (figures, tables, texts): a supervised factor defaults to the classifier's
    evaluate: Callable[..., dict[str, float]] | None = None
    artifacts: Callable[..., tuple[dict, dict, dict]] | None = None

    @property
    def score_table(self) -> str:
        return f"{self.name}_scores"

    @property
    def model_name(self) -> str:
        return f"powerseg_{self.name}"

    @property
    def score_column(self) -> str:
        """The factor's 0-100 score in marts.customer_factor_scores."""
        return f"{self.name}_score"

    @property
    def label(self) -> str | None:
        return self.config().label if self.supervised else None

    @property
    def reason_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.score_columns if c.name.startswith("reason"))

    @property
    def score_range(self) -> tuple[float | None, float | None]:
        return next(c.range for c in self.score_columns if c.name == "score") or SCORE_RANGE

    def score_dtypes(self) -> dict[str, str]:
        return {c.name: c.dtype for c in self.score_columns}

    def evaluator(self) -> Callable[..., dict[str, float]]:
        if self.evaluate is not None:
            return self.evaluate
        return lambda est, holdout, cfg: ev.evaluate_classifier(est, holdout, cfg.top_k_share)

    def artifact_writer(self) -> Callable[..., tuple[dict, dict, dict]]:
        if self.artifacts is not None:
            return self.artifacts
        return lambda est, holdout, cfg, figures: ev.classifier_artifacts(
            est, holdout, self.name, figures
        )

    def resolve_config(self, config: Any = None) -> Any:
        """The default config, the dataclass given, or the default with dict overrides (a `tiers`
        override may be a dict like {"method": "cutoff", "high": 80, "medium": 50})."""
        config_class = self.config
        if config is None:
            return config_class()
        if isinstance(config, config_class):
            return config
        if isinstance(config, dict):
            known = {f.name for f in dataclasses.fields(config_class)}
            unknown = sorted(set(config) - known)
            if unknown:
                raise ValueError(f"unknown {self.name} config keys: {', '.join(unknown)}")
            overrides = dict(config)
            if isinstance(overrides.get("tiers"), dict):
                overrides["tiers"] = TierRule(**overrides["tiers"])
            for key, value in overrides.items():
                if isinstance(value, list):
                    overrides[key] = tuple(value)
            return dataclasses.replace(config_class(), **overrides)
        raise TypeError(
            f"{self.name} config must be None, a dict or {config_class.__name__}, "
            f"got {type(config).__name__}"
        )


class Registry:
    """The factors in their fixed order (the order of columns, segment names and reports)."""

    def __init__(self, factors: tuple[Factor, ...] | list[Factor]):
        self.factors = tuple(factors)
        self._by_name = {f.name: f for f in self.factors}
        problems = validate(self.factors)
        if problems:
            raise ValueError("invalid factor registry: " + "; ".join(problems))

    def __iter__(self) -> Iterator[Factor]:
        return iter(self.factors)

    def __len__(self) -> int:
        return len(self.factors)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __getitem__(self, name: str) -> Factor:
        if name not in self._by_name:
            raise ValueError(f"unknown factor {name!r}; expected one of {', '.join(self.names)}")
        return self._by_name[name]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._by_name)

    @property
    def supervised(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.factors if f.supervised)

    @property
    def score_columns(self) -> tuple[str, ...]:
        return tuple(f.score_column for f in self.factors)

    def with_factor(self, factor: Factor) -> Registry:
        return Registry((*self.factors, factor))


def validate(factors: tuple[Factor, ...]) -> list[str]:
    """What is inconsistent in a set of entries (empty when they can be used)."""
    problems = []
    names = [f.name for f in factors]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"factor {name!r} is registered twice")
    for f in factors:
        columns = {c.name for c in f.score_columns}
        if "score" not in columns or "tier" not in columns:
            problems.append(f"{f.name}: the score table needs a 'score' and a 'tier' column")
        for published in f.published:
            missing = sorted(set(published.sources) - columns)
            if missing:
                problems.append(f"{f.name}: {published.name} reads unknown column(s) {missing}")
        if f.score_column not in {p.name for p in f.published}:
            problems.append(f"{f.name}: {f.score_column} must be published")
        has_label = any(field.name == "label" for field in dataclasses.fields(f.config))
        if f.supervised and (not has_label or f.baseline is None):
            problems.append(f"{f.name}: a supervised factor needs a config label and a baseline")
    published = [p.name for f in factors for p in f.published]
    for name in sorted({n for n in published if published.count(n) > 1}):
        problems.append(f"published column {name!r} comes from two factors")
    for role in ("value",):
        if sum(f.segment_role == role for f in factors) > 1:
            problems.append(f"more than one factor has segment role {role!r}")
    return problems


_REASONS = tuple(ScoreColumn(f"reason_{i}", "string", nullable=True) for i in (1, 2, 3))
_SCORE = ScoreColumn("score", "Float64", range=SCORE_RANGE)
_PROBABILITY = ScoreColumn("probability", "Float64", range=PROBABILITY_RANGE)
_TIER = ScoreColumn("tier", "string", says_not_scored=True)
_TOP_REASONS = ("reason_1", "reason_2", "reason_3")

REGISTRY = Registry(
    (
        Factor(
            name="contribution",
            description=(
                "Contribution value (fuzzy c-means level, membership-weighted score 0-100)."
            ),
            method="fuzzy c-means value levels",
            config=ContributionConfig,
            model=ContributionModel,
            feature_mart="fct_features_contribution",
            required_sources=("bills",),
            supervised=False,
            promotion=PromotionRule("value_agreement", True, "spearman_realised_revenue", True),
            score_columns=(
                _SCORE,
                ScoreColumn("level", "Int64"),
                _TIER,
                *(ScoreColumn(f"membership_{i}", "Float64") for i in range(1, 6)),
            ),
            published=(
                PublishedColumn(
                    "contribution_score", ("score",), "Contribution value score 0-100."
                ),
                PublishedColumn(
                    "contribution_level",
                    ("level",),
                    "Contribution level 1-5 (5 = highest value), argmax membership.",
                ),
            ),
            segment_words=("high value", "low value"),
            segment_role="value",
            evaluate=ev.evaluate_contribution,
            artifacts=ev.contribution_artifacts,
        ),
        Factor(
            name="outage_sensitivity",
            description=(
                "Outage sensitivity (logistic regression probability, score, tier, reasons)."
            ),
            method="logistic regression on outage exposure and contact history",
            config=OutageSensitivityConfig,
            model=OutageSensitivityModel,
            feature_mart="fct_features_outage_sensitivity",
            required_sources=("outages", "work_orders"),
            supervised=True,
            promotion=PromotionRule("auc", True, "brier", False),
            score_columns=(_PROBABILITY, _SCORE, _TIER, *_REASONS),
            published=(
                PublishedColumn(
                    "outage_sensitivity_score",
                    ("score",),
                    "100 x probability of an outage complaint or fault report within 72 h.",
                ),
                PublishedColumn("outage_sensitivity_tier", ("tier",), "high / medium / low."),
                PublishedColumn(
                    "outage_sensitivity_reasons",
                    _TOP_REASONS,
                    "Top reason codes, comma-separated.",
                    nullable=True,
                ),
            ),
            segment_words=("outage-sensitive", "outage-tolerant"),
            pools_closed_months=True,
            baseline=OUTAGE_RULE,
            artifacts=ev.outage_artifacts,
        ),
        Factor(
            name="arrears",
            description="Arrears risk scorecard (points, probability, grade A-E, reasons).",
            method="WOE scorecard (optimal binning + logistic regression)",
            config=ArrearsConfig,
            model=ArrearsScorecard,
            feature_mart="fct_features_arrears",
            required_sources=("bills", "payments"),
            supervised=True,
            promotion=PromotionRule("ks", True, "auc", True),
            score_columns=(
                _PROBABILITY,
                _SCORE,
                ScoreColumn("points", "Float64"),
                ScoreColumn("grade", "string", says_not_scored=True),
                _TIER,
                *_REASONS,
            ),
            published=(
                PublishedColumn(
                    "arrears_score",
                    ("score",),
                    "100 x probability of a bill unpaid 30 days after due in the next months.",
                ),
                PublishedColumn(
                    "arrears_points",
                    ("points",),
                    "Scorecard points (base 600 at odds 50:1, 20 points double the odds).",
                ),
                PublishedColumn(
                    "arrears_grade",
                    ("grade",),
                    "A (best) to E, from fixed bands of the calibrated probability of arrears.",
                ),
                PublishedColumn(
                    "arrears_tier",
                    ("tier",),
                    "low, medium (from the base rate of arrears) or high (at least twice it); "
                    "not_scored when the factor was skipped.",
                ),
                PublishedColumn(
                    "arrears_reasons",
                    _TOP_REASONS,
                    "The bins that cost the most points, comma-separated.",
                    nullable=True,
                ),
            ),
            segment_words=("arrears-prone", "prompt-paying"),
            segment_role="risk",
            pools_closed_months=True,
            baseline=ARREARS_RULE,
            artifacts=ev.arrears_artifacts,
        ),
        Factor(
            name="channel_activity",
            description="Channel activity index, preferred channel and digital tier.",
            method="entropy-weighted recency/frequency/breadth activity index",
            config=ChannelActivityConfig,
            model=ChannelActivityModel,
            feature_mart="fct_features_channel_activity",
            required_sources=("channel_interactions",),
            supervised=False,
            promotion=PromotionRule("psi_between_months", False),
            score_columns=(
                _SCORE,
                _TIER,
                ScoreColumn("preferred_channel", "string", says_not_scored=True),
                ScoreColumn("digital_share", "Float64"),
                ScoreColumn("digital_tier", "string", says_not_scored=True),
            ),
            published=(
                PublishedColumn(
                    "channel_activity_score", ("score",), "Channel activity index 0-100."
                ),
                PublishedColumn(
                    "preferred_channel",
                    ("preferred_channel",),
                    "Channel with the highest activity.",
                ),
                PublishedColumn(
                    "digital_tier", ("digital_tier",), "digital-first / hybrid / offline."
                ),
            ),
            segment_words=("channel-active", "channel-inactive"),
            evaluate=ev.evaluate_channel,
            artifacts=ev.channel_artifacts,
        ),
        Factor(
            name="inspection",
            description="Inspection (theft) risk (decision-tree probability, tier, rule path).",
            method="depth-limited decision tree with readable rule paths",
            config=InspectionConfig,
            model=InspectionRiskModel,
            feature_mart="fct_features_inspection",
            required_sources=("inspections",),
            supervised=True,
            promotion=PromotionRule("precision_at_k", True, "auc", True),
            score_columns=(
                _PROBABILITY,
                _SCORE,
                _TIER,
                ScoreColumn("reason", "string", nullable=True),
            ),
            published=(
                PublishedColumn(
                    "inspection_score",
                    ("score",),
                    "100 x probability that an inspection finds theft or a violation.",
                ),
                PublishedColumn("inspection_tier", ("tier",), "high / medium / low."),
                PublishedColumn(
                    "inspection_reason",
                    ("reason",),
                    "The decision-tree rule path for the customer.",
                    nullable=True,
                ),
            ),
            segment_words=("theft-risk", "low theft risk"),
            segment_role="risk",
            pools_closed_months=True,
            baseline=INSPECTION_RULE,
            artifacts=ev.inspection_artifacts,
        ),
    )
)
FACTORS = REGISTRY.names


def resolve_config(factor: str, config: Any = None, registry: Registry = REGISTRY) -> Any:
    """The factor's config: the default, the dataclass given, or the default with dict overrides."""
    return registry[factor].resolve_config(config)
