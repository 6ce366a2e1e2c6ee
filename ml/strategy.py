"""Differentiated service: SERVQUAL gaps per segment rank the dimensions to invest in, and the
versioned rules of seeds/strategy_rules.csv turn segment, labels and scores into actions
with reasons.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ml.display import DisplayText, localise_rules
from ml.labels import (
    load_label_registry,
    require_unique_customers,
    single_month,
    validate_label_registry,
)
from ml.reasons import gap_clauses, render_template, template_fields
from ml.rules import RuleContext, as_mask, evaluate_rule
from ml.seeds import Seed

# the five SERVQUAL dimensions, in the order of the source contract (satisfaction_surveys)
SERVQUAL_DIMENSIONS = ("reliability", "responsiveness", "assurance", "empathy", "tangibles")
STRATEGY_RULES = Seed(
    "strategy rules",
    "strategy_rules.csv",
    columns=("action_code", "action", "dimension", "applies_when", "priority", "rule_version"),
    key="action_code",
    row="action",
    plural=True,
    optional_text=("reason",),
)
SURVEY_COLUMNS = ("customer_id", "surveyed_on", "dimension", "expectation", "perception")
MATRIX_COLUMNS = (
    "as_of_month",
    "level1_category",
    "segment_id",
    "segment_name",
    "dimension",
    "gap",
    "n_answers",
    "gap_source",
    "segment_gap",
    "segment_n_answers",
    "rank",
    "action_codes",
    "actions",
)
ACTION_COLUMNS = (
    "as_of_month",
    "customer_id",
    "level1_category",
    "segment_id",
    "action_rank",
    "action_code",
    "action",
    "dimension",
    "priority",
    "reason",
    "rule_version",
)
LIST_SEPARATOR = " | "


@dataclass(frozen=True)
class StrategyConfig:
    # a segment with fewer answers on a dimension borrows its category's gap (then the population's)
    min_answers: int = 30
    survey_window_months: int = 12  # answers from the 12 months ending with the as-of month count
    # a rule becomes one of a segment's actions when it applies to this share of its customers
    min_rule_share: float = 0.2
    actions_per_cell: int = 3
    actions_per_customer: int = 3


@dataclass
class StrategyResult:
    gaps: pd.DataFrame  # segment × dimension gaps with their source and rank
    segment_strategy_matrix: pd.DataFrame
    customer_service_actions: pd.DataFrame


# --------------------------------------------------------------------------- rules


def load_strategy_rules(path: str | Path | None = None) -> pd.DataFrame:
    return validate_strategy_rules(STRATEGY_RULES.read(path))


def validate_strategy_rules(rules: pd.DataFrame) -> pd.DataFrame:
    rules = STRATEGY_RULES.checked(rules)
    STRATEGY_RULES.require_unique_key(rules)
    STRATEGY_RULES.require_known(rules, "dimension", SERVQUAL_DIMENSIONS)
    # a segment must be able to get an action for every dimension it has a gap on
    uncovered = [d for d in SERVQUAL_DIMENSIONS if d not in set(rules["dimension"])]
    if uncovered:
        raise ValueError(f"strategy rules have no action for dimension(s) {uncovered}")
    rules["priority"] = STRATEGY_RULES.whole_numbers(rules, "priority")
    return rules.reset_index(drop=True)


# --------------------------------------------------------------------------- SERVQUAL gaps


def servqual_gaps(
    surveys: pd.DataFrame,
    customer_segments: pd.DataFrame,
    config: StrategyConfig | None = None,
) -> pd.DataFrame:
    """Mean expectation − perception per segment × dimension, with the source each gap came from.

    `gap_source` is `segment` when the segment has at least `min_answers` answers on the
    dimension, else `category` (its level-1 category has), else `population` (all answers),
    else `none` (no answers at all: gap is null). Rank 1 = the segment's largest gap.
    """
    config = config or StrategyConfig()
    as_of_month = single_month(customer_segments, "customer_segments")
    answers = _answers_in_window(surveys, as_of_month, config)
    answers = answers.merge(
        customer_segments[["customer_id", "level1_category", "segment_id"]], on="customer_id"
    )
    segments = (
        customer_segments[["level1_category", "segment_id", "segment_name"]]
        .drop_duplicates("segment_id")
        .sort_values(["level1_category", "segment_id"])
    )
    grid = segments.merge(pd.DataFrame({"dimension": SERVQUAL_DIMENSIONS}), how="cross")

    def stats(keys: list[str], prefix: str) -> pd.DataFrame:
        grouped = answers.groupby(keys, observed=True)["gap"]
        return grouped.agg(["mean", "size"]).rename(
            columns={"mean": f"{prefix}_gap", "size": f"{prefix}_n_answers"}
        )

    grid = grid.join(stats(["segment_id", "dimension"], "segment"), on=["segment_id", "dimension"])
    grid = grid.join(
        stats(["level1_category", "dimension"], "category"), on=["level1_category", "dimension"]
    )
    grid = grid.join(stats(["dimension"], "population"), on="dimension")
    for column in ("segment_n_answers", "category_n_answers", "population_n_answers"):
        grid[column] = grid[column].fillna(0).astype(int)

    enough_segment = grid["segment_n_answers"] >= config.min_answers
    enough_category = grid["category_n_answers"] >= config.min_answers
    any_population = grid["population_n_answers"] > 0
    grid["gap_source"] = np.select(
        [enough_segment, enough_category, any_population],
        ["segment", "category", "population"],
        "none",
    )
    grid["gap"] = np.select(
        [enough_segment, enough_category, any_population],
        [grid["segment_gap"], grid["category_gap"], grid["population_gap"]],
        np.nan,
    )
    grid["n_answers"] = np.select(
        [enough_segment, enough_category, any_population],
        [grid["segment_n_answers"], grid["category_n_answers"], grid["population_n_answers"]],
        0,
    ).astype(int)
    grid["dimension_order"] = grid["dimension"].map(
        {d: i for i, d in enumerate(SERVQUAL_DIMENSIONS)}
    )
    # largest gap first; no gap (null) last; equal gaps in the contract's dimension order
    grid = grid.sort_values(
        ["segment_id", "gap", "dimension_order"],
        ascending=[True, False, True],
        na_position="last",
    )
    grid["rank"] = grid.groupby("segment_id").cumcount() + 1
    grid["gap"] = grid["gap"].round(3)
    grid["segment_gap"] = grid["segment_gap"].round(3)
    grid.insert(0, "as_of_month", as_of_month)
    columns = [c for c in MATRIX_COLUMNS if c not in ("action_codes", "actions")]
    return (
        grid.sort_values(["level1_category", "segment_id", "rank"])
        .loc[:, columns]
        .reset_index(drop=True)
    )


def _answers_in_window(
    surveys: pd.DataFrame, as_of_month: pd.Timestamp, config: StrategyConfig
) -> pd.DataFrame:
    missing = [c for c in SURVEY_COLUMNS if c not in surveys.columns]
    if missing:
        raise ValueError(f"surveys lack column(s) {missing}")
    answers = surveys.loc[:, list(SURVEY_COLUMNS)].copy()
    answers["surveyed_on"] = pd.to_datetime(answers["surveyed_on"])
    unknown = sorted(set(answers["dimension"].dropna()) - set(SERVQUAL_DIMENSIONS))
    if unknown:
        raise ValueError(f"surveys have unknown dimension(s) {unknown}")
    for column in ("expectation", "perception"):
        values = pd.to_numeric(answers[column], errors="coerce")
        outside = ~values.between(1, 7)
        if outside.any():
            raise ValueError(
                f"surveys: {int(outside.sum())} answers with {column} missing or outside 1-7"
            )
        answers[column] = values
    window_end = as_of_month + pd.offsets.MonthEnd(0) + pd.Timedelta(days=1)
    window_start = as_of_month - pd.DateOffset(months=config.survey_window_months - 1)
    in_window = (answers["surveyed_on"] >= window_start) & (answers["surveyed_on"] < window_end)
    answers = answers[in_window]
    return answers.assign(gap=answers["expectation"] - answers["perception"])


# --------------------------------------------------------------------------- the whole strategy


def build_service_strategy(
    scores: pd.DataFrame,
    customer_segments: pd.DataFrame,
    surveys: pd.DataFrame,
    customer_labels: pd.DataFrame,
    rules: pd.DataFrame | None = None,
    label_registry: pd.DataFrame | None = None,
    config: StrategyConfig | None = None,
    display: DisplayText | None = None,
) -> StrategyResult:
    """Gaps, the segment × dimension strategy matrix and the top actions of every customer.

    Actions and reasons read in the locale of `display` (the rules' action_zh / reason_zh,
    category and segment names from the display_text seed); English without it."""
    config = config or StrategyConfig()
    display = display or DisplayText.load("en")
    rules = load_strategy_rules() if rules is None else validate_strategy_rules(rules)
    rules = localise_rules(rules, display.locale)
    registry = (
        load_label_registry() if label_registry is None else validate_label_registry(label_registry)
    )
    as_of_month = single_month(scores)
    frame = _strategy_frame(scores, customer_segments, display)
    gaps = servqual_gaps(surveys, customer_segments, config)
    context = _rule_context(frame, customer_labels, registry, gaps, rules)
    applies = np.column_stack(
        [
            as_mask(
                evaluate_rule(frame, rule.applies_when, owner=owner, context=context),
                owner=owner,
                expression=rule.applies_when,
            ).to_numpy()
            for rule in rules.itertuples(index=False)
            for owner in [f"strategy rule {rule.action_code!r}"]
        ]
    )
    matrix = _strategy_matrix(frame, gaps, rules, applies, config)
    actions = _customer_actions(frame, gaps, rules, applies, as_of_month, config, display)
    return StrategyResult(gaps, matrix, actions)


def segment_strategy_matrix(*args, **kwargs) -> pd.DataFrame:
    """`build_service_strategy(...)`'s segment × dimension matrix (same arguments)."""
    return build_service_strategy(*args, **kwargs).segment_strategy_matrix


def customer_service_actions(*args, **kwargs) -> pd.DataFrame:
    """`build_service_strategy(...)`'s top actions per customer (same arguments)."""
    return build_service_strategy(*args, **kwargs).customer_service_actions


def _strategy_frame(
    scores: pd.DataFrame, customer_segments: pd.DataFrame, display: DisplayText
) -> pd.DataFrame:
    require_unique_customers(scores)
    require_unique_customers(customer_segments, "customer_segments")
    segments = customer_segments[["customer_id", "segment_id", "segment_name"]]
    frame = scores.drop(columns=["segment_id", "segment_name"], errors="ignore").merge(
        segments, on="customer_id", how="left", validate="one_to_one"
    )
    unsegmented = frame["segment_id"].isna()
    if unsegmented.any():
        examples = frame.loc[unsegmented, "customer_id"].head(3).tolist()
        raise ValueError(
            f"{int(unsegmented.sum())} scored customers have no segment, e.g. {examples}"
        )
    frame["level1_category_name"] = display.series("category", frame["level1_category"])
    return frame


def _rule_context(
    frame: pd.DataFrame,
    customer_labels: pd.DataFrame,
    registry: pd.DataFrame,
    gaps: pd.DataFrame,
    rules: pd.DataFrame,
) -> RuleContext:
    # only the labels the rules mention are pivoted: the long table has millions of rows
    mentioned = {
        code for code in registry["code"] if any(f"'{code}'" in r for r in rules["applies_when"])
    }
    wanted = customer_labels[customer_labels["label_code"].isin(mentioned)]
    wide = wanted.pivot(index="customer_id", columns="label_code", values="value")
    wide = wide.reindex(frame["customer_id"])
    labels = {
        code: pd.Series(wide[code].to_numpy(dtype=object), index=frame.index)
        for code in wide.columns
    }
    gap_table = gaps.pivot(index="segment_id", columns="dimension", values="gap")
    rank_table = gaps.pivot(index="segment_id", columns="dimension", values="rank")
    segment_ids = frame["segment_id"].to_numpy(dtype=object)

    def per_row(table: pd.DataFrame, dimension: str) -> pd.Series:
        # reindex, not Series.map: a lookup per customer, vectorised
        return pd.Series(table[dimension].reindex(segment_ids).to_numpy(), index=frame.index)

    return RuleContext(
        labels=labels,
        known_label_codes=frozenset(registry["code"]),
        gaps={d: per_row(gap_table, d) for d in SERVQUAL_DIMENSIONS},
        gap_ranks={d: per_row(rank_table, d) for d in SERVQUAL_DIMENSIONS},
    )


def _strategy_matrix(
    frame: pd.DataFrame,
    gaps: pd.DataFrame,
    rules: pd.DataFrame,
    applies: np.ndarray,
    config: StrategyConfig,
) -> pd.DataFrame:
    shares = (
        pd.DataFrame(applies, columns=rules["action_code"])
        .groupby(frame["segment_id"].to_numpy())
        .mean()
    )
    ordered = rules.sort_values(["priority", "action_code"])
    codes_by_dimension = {
        d: ordered.loc[ordered["dimension"] == d, "action_code"].tolist()
        for d in SERVQUAL_DIMENSIONS
    }
    action_text = dict(zip(rules["action_code"], rules["action"], strict=True))
    cell_codes = []
    for cell in gaps.itertuples(index=False):  # segments × 5 rows, not customers
        candidates = codes_by_dimension[cell.dimension]
        segment_shares = shares.loc[cell.segment_id, candidates]
        chosen = [c for c in candidates if segment_shares[c] >= config.min_rule_share]
        if not chosen and cell.gap > 0:
            # a gap must never go without an action: take the rule reaching most customers
            chosen = [max(candidates, key=lambda c: segment_shares[c])]
        cell_codes.append(chosen[: config.actions_per_cell])
    matrix = gaps.copy()
    matrix["action_codes"] = [LIST_SEPARATOR.join(codes) for codes in cell_codes]
    matrix["actions"] = [LIST_SEPARATOR.join(action_text[c] for c in codes) for codes in cell_codes]
    return matrix.loc[:, list(MATRIX_COLUMNS)]


def _customer_actions(
    frame: pd.DataFrame,
    gaps: pd.DataFrame,
    rules: pd.DataFrame,
    applies: np.ndarray,
    as_of_month: pd.Timestamp,
    config: StrategyConfig,
    display: DisplayText,
) -> pd.DataFrame:
    """Top actions per customer: priority first, then the segment's gap rank of the dimension."""
    rows, rule_positions = np.nonzero(applies)
    rank_table = gaps.pivot(index="segment_id", columns="dimension", values="rank")
    segment_codes, segment_index = np.unique(frame["segment_id"].to_numpy(), return_inverse=True)
    dimension_index = {d: i for i, d in enumerate(rank_table.columns)}
    ranks = rank_table.reindex(segment_codes).to_numpy()
    rule_dimension = rules["dimension"].map(dimension_index).to_numpy()
    dimension_rank = ranks[segment_index[rows], rule_dimension[rule_positions]]
    priority = rules["priority"].to_numpy()[rule_positions]
    code_order = rules["action_code"].rank(method="first").to_numpy()[rule_positions]
    order = np.lexsort((code_order, dimension_rank, priority, rows))
    rows, rule_positions = rows[order], rule_positions[order]
    within = pd.Series(rows).groupby(rows).cumcount().to_numpy()
    keep = within < config.actions_per_customer
    rows, rule_positions, within = rows[keep], rule_positions[keep], within[keep]

    # only the columns the reasons and the output need: taking every column of a wide frame for
    # each action costs seconds at 10^5 customers
    needed = {"customer_id", "level1_category", "segment_id"}
    for template in rules["reason"]:
        needed |= template_fields(template)
    chosen = frame.loc[:, [c for c in frame.columns if c in needed]].iloc[rows]
    chosen = chosen.reset_index(drop=True)
    picked = rules.iloc[rule_positions].reset_index(drop=True)
    shown = chosen.copy()  # the words a reason quotes, in its locale (codes stay in the table)
    if "segment_name" in shown.columns:
        shown["segment_name"] = display.segment_names(shown["segment_name"])
    if "customer_type" in shown.columns:
        shown["customer_type"] = display.series("value", shown["customer_type"])
    reasons = pd.Series("", index=chosen.index, dtype=object)
    for position in np.unique(rule_positions):
        rule = rules.iloc[position]
        selected = np.flatnonzero(rule_positions == position)
        reasons.iloc[selected] = render_template(
            shown.iloc[selected], rule["reason"] or rule["action"], rule["action_code"]
        ).to_numpy()
    clauses = gap_clauses(gaps, display)
    keys = pd.MultiIndex.from_arrays(
        [chosen["segment_id"].to_numpy(dtype=object), picked["dimension"].to_numpy(dtype=object)]
    )
    clause = pd.Series(pd.Series(clauses).reindex(keys).to_numpy(), index=chosen.index)
    actions = pd.DataFrame(
        {
            "as_of_month": as_of_month,
            "customer_id": chosen["customer_id"],
            "level1_category": chosen["level1_category"],
            "segment_id": chosen["segment_id"],
            "action_rank": within + 1,
            "action_code": picked["action_code"],
            "action": picked["action"],
            "dimension": picked["dimension"],
            "priority": picked["priority"],
            "reason": reasons + "; " + clause,
            "rule_version": picked["rule_version"],
        }
    )
    return actions.loc[:, list(ACTION_COLUMNS)]
