"""Service strategy: SERVQUAL gaps with their fallbacks, every strategy rule on hand-built rows,
an action for every gap a segment ranks, and readable reasons.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml.labels import evaluate_labels
from ml.rules import RuleError
from ml.segmentation import segment_customers
from ml.strategy import (
    ACTION_COLUMNS,
    MATRIX_COLUMNS,
    SERVQUAL_DIMENSIONS,
    StrategyConfig,
    build_service_strategy,
    load_strategy_rules,
    servqual_gaps,
    validate_strategy_rules,
)
from tests.ml.test_labels import MONTH, rows_frame
from tests.ml.test_segmentation import PII_COLUMNS, planted_scores

EVERY_ACTION = StrategyConfig(actions_per_customer=100)


def segments_of(frame: pd.DataFrame) -> pd.DataFrame:
    """Hand-built rows: one segment per level-1 category, `<category>-01`."""
    return frame[["as_of_month", "customer_id", "level1_category"]].assign(
        segment_id=frame["level1_category"] + "-01", segment_name="hand-built"
    )


def flat_surveys(customer_ids, gap: float = 0.0, on: str = "2025-05-10") -> pd.DataFrame:
    """One answer per customer and dimension, expectation − perception = `gap` everywhere."""
    grid = pd.MultiIndex.from_product([list(customer_ids), SERVQUAL_DIMENSIONS]).to_frame(
        index=False, name=["customer_id", "dimension"]
    )
    return grid.assign(surveyed_on=pd.Timestamp(on), expectation=5.0 + gap, perception=5.0)


def actions_for(frame, surveys=None, config=EVERY_ACTION, rules=None):
    segments = segments_of(frame)
    surveys = flat_surveys(frame["customer_id"]) if surveys is None else surveys
    labels = evaluate_labels(frame)
    return build_service_strategy(frame, segments, surveys, labels, rules=rules, config=config)


@pytest.fixture(scope="module")
def rules() -> pd.DataFrame:
    return load_strategy_rules()


# action_code -> [(changes to the neutral customer, does the action apply)]; with zero SERVQUAL
# gaps everywhere, so the segment-gap rules stay quiet here and are tested on their own below.
CASES: dict[str, list[tuple[dict, bool]]] = {
    "planned_outage_notice": [({}, False), ({"outage_sensitivity_tier": "high"}, True)],
    "dual_supply_check": [
        ({"outage_sensitivity_tier": "high"}, False),
        ({"outage_sensitivity_tier": "high", "level1_category": "important"}, True),
        ({"outage_sensitivity_tier": "high", "level1_category": "large_industrial"}, True),
        ({"level1_category": "important"}, False),
    ],
    "feeder_maintenance_priority": [
        ({"outages_experienced_12m": 3}, False),
        ({"outages_experienced_12m": 4}, True),
    ],
    "complaint_fast_track": [({"complaints_12m": 1}, False), ({"complaints_12m": 2}, True)],
    "restoration_progress_push": [
        ({}, False),
        ({"outage_contact_rate_12m": 0.5}, True),
    ],
    "due_date_reminder": [
        ({}, False),
        ({"late_payment_rate_12m": 0.3}, True),
        ({"unpaid_bills_at_as_of": 1}, True),
    ],
    "inspection_list": [({}, False), ({"inspection_tier": "high"}, True)],
    "remote_meter_check": [
        ({}, False),
        ({"inspection_tier": "medium"}, True),
        ({"consumption_drop_ratio": 0.6}, True),
        ({"consumption_drop_ratio": 0.6, "inspection_tier": "high"}, False),
    ],
    "energy_efficiency_advice": [
        ({"contribution_level": 4}, False),  # residential
        ({"contribution_level": 4, "customer_type": "commercial"}, True),
        ({"customer_type": "commercial"}, False),
    ],
    "account_manager": [
        ({"contribution_level": 5}, False),  # category other
        ({"contribution_level": 5, "level1_category": "large_commercial"}, True),
        ({"level1_category": "key"}, False),
    ],
    "payment_plan": [({"arrears_tier": "medium"}, False), ({"arrears_tier": "high"}, True)],
    "elderly_home_visit": [
        ({"holder_age_years": 70.0}, False),
        ({"holder_age_years": 70.0, "counter_frequency_12m": 10}, True),
        ({"holder_age_years": 45.0, "counter_frequency_12m": 10}, False),
    ],
    "community_liaison": [({}, False), ({"is_community_account": True}, True)],
    "ebill_app_services": [({}, False), ({"digital_tier": "digital-first"}, True)],
    "auto_debit_enrolment": [
        ({"late_payment_rate_12m": 0.3}, True),
        ({"late_payment_rate_12m": 0.3, "auto_debit_share_12m": 1.0}, False),
    ],
    "self_service_guidance": [
        ({"counter_frequency_12m": 10}, True),
        ({"counter_frequency_12m": 10, "holder_age_years": 70.0}, False),
        ({}, False),
    ],
}
GAP_RULES = {
    "reliability_commitment": "reliability",
    "response_time_commitment": "responsiveness",
    "service_standards_explained": "assurance",
    "personal_service_record": "empathy",
    "service_hall_upgrade": "tangibles",
}


# applies where no survey answer measures the segment at all (a source system without surveys)
NO_SURVEY_RULES = {"survey_invitation"}


def test_every_strategy_rule_has_cases(rules):
    assert set(CASES) | set(GAP_RULES) | NO_SURVEY_RULES == set(rules["action_code"])
    assert set(rules["dimension"]) == set(SERVQUAL_DIMENSIONS)


@pytest.mark.parametrize("code", sorted(CASES))
def test_strategy_rule_on_hand_built_rows(code, rules):
    frame = rows_frame([c for c, _ in CASES[code]])
    actions = actions_for(frame, rules=rules).customer_service_actions
    got = [
        code in set(actions.loc[actions["customer_id"] == customer, "action_code"])
        for customer in frame["customer_id"]
    ]
    assert got == [applies for _, applies in CASES[code]]


def test_neutral_customer_without_gaps_gets_no_action(rules):
    result = actions_for(rows_frame([{}]), rules=rules)
    assert result.customer_service_actions.empty
    assert (result.gaps["gap"] == 0).all()


@pytest.mark.parametrize("code", sorted(GAP_RULES))
def test_segment_gap_rules_follow_the_survey(code, rules):
    dimension = GAP_RULES[code]
    frame = rows_frame([{}] * 3)
    surveys = flat_surveys(frame["customer_id"])
    quiet = actions_for(frame, surveys, rules=rules).customer_service_actions
    assert code not in set(quiet["action_code"])
    surveys.loc[surveys["dimension"] == dimension, "expectation"] += 1.5
    loud = actions_for(frame, surveys, rules=rules).customer_service_actions
    assert set(loud.loc[loud["action_code"] == code, "customer_id"]) == set(frame["customer_id"])


def test_without_any_survey_every_customer_is_invited_to_one(rules):
    frame = rows_frame([{}] * 3)
    no_surveys = flat_surveys([]).iloc[0:0]
    actions = actions_for(frame, no_surveys, rules=rules).customer_service_actions
    invited = actions[actions["action_code"] == "survey_invitation"]
    assert set(invited["customer_id"]) == set(frame["customer_id"])
    assert invited["reason"].str.contains("no satisfaction-survey answers measure").all()
    # once any answer measures the dimension, nobody is invited on its account
    surveyed = actions_for(frame, rules=rules).customer_service_actions
    assert "survey_invitation" not in set(surveyed["action_code"])


def test_servqual_gaps_with_fallbacks_and_window():
    # other-01: 40 reliability answers, gap 2; other-02: 10 answers, gap 1 (category: 50);
    # important-01: 5 answers, gap 3, and its category has no more (population: 55).
    spec = [("other", "other-01", 40, 2.0), ("other", "other-02", 10, 1.0)]
    spec.append(("important", "important-01", 5, 3.0))
    segments, answers = [], []
    for category, segment, n, gap in spec:
        ids = [f"{segment}-{i:03d}" for i in range(n)]
        segments.append(
            pd.DataFrame(
                {"customer_id": ids, "level1_category": category, "segment_id": segment}
            ).assign(as_of_month=MONTH, segment_name=segment)
        )
        answers.append(
            pd.DataFrame(
                {
                    "customer_id": ids,
                    "surveyed_on": pd.Timestamp("2025-03-15"),
                    "dimension": "reliability",
                    "expectation": 4.0 + gap,
                    "perception": 4.0,
                }
            )
        )
    customer_segments = pd.concat(segments, ignore_index=True)
    surveys = pd.concat(answers, ignore_index=True)
    # the same customers on empathy: gap 1 inside the window, a huge gap outside it
    empathy = surveys.assign(dimension="empathy", expectation=5.0)
    too_old = empathy.assign(surveyed_on=pd.Timestamp("2024-06-30"), expectation=7.0, perception=1)
    too_new = empathy.assign(surveyed_on=pd.Timestamp("2025-07-01"), expectation=7.0, perception=1)
    gaps = servqual_gaps(
        pd.concat([surveys, empathy, too_old, too_new], ignore_index=True), customer_segments
    )
    cell = gaps.set_index(["segment_id", "dimension"])
    assert list(gaps.columns) == [c for c in MATRIX_COLUMNS if c not in ("action_codes", "actions")]
    assert len(gaps) == 3 * 5

    own = cell.loc[("other-01", "reliability")]
    assert (own["gap_source"], own["gap"], own["n_answers"]) == ("segment", 2.0, 40)
    borrowed = cell.loc[("other-02", "reliability")]
    assert (borrowed["gap_source"], borrowed["n_answers"]) == ("category", 50)
    assert borrowed["gap"] == pytest.approx(1.8)  # (40 × 2 + 10 × 1) / 50
    assert borrowed["segment_gap"] == 1.0 and borrowed["segment_n_answers"] == 10
    population = cell.loc[("important-01", "reliability")]
    assert (population["gap_source"], population["n_answers"]) == ("population", 55)
    assert population["gap"] == pytest.approx((80 + 10 + 15) / 55, abs=1e-3)
    # only answers in the 12 months ending with the as-of month count
    assert cell.loc[("other-01", "empathy"), "gap"] == 1.0
    assert cell.loc[("other-01", "empathy"), "n_answers"] == 40
    # no answers at all: no gap, ranked last
    nothing = cell.loc[("other-01", "tangibles")]
    assert nothing["gap_source"] == "none" and pd.isna(nothing["gap"])
    ranks = cell.loc["other-01"]["rank"].sort_values()
    assert list(ranks.index[:2]) == ["reliability", "empathy"]
    assert sorted(ranks) == [1, 2, 3, 4, 5]


def planted_world(n_other: int = 1500, seed: int = 5):
    """A month with segments, labels and surveys whose gaps differ per segment."""
    scores, _ = planted_scores(n_other=n_other, small_categories={"important": 60, "key": 150})
    segments = segment_customers(scores).customer_segments
    labels = evaluate_labels(scores)
    rng = np.random.default_rng(seed)
    answered = segments.sample(frac=0.6, random_state=seed)
    # each segment's gap on a dimension: a planted offset by segment number and dimension
    number = answered["segment_id"].str.rsplit("-", n=1).str[1].astype(int).to_numpy()
    rows = []
    for d, dimension in enumerate(SERVQUAL_DIMENSIONS):
        offset = ((number + d) % 5 - 1.5).clip(-1, 3)
        perception = rng.integers(3, 6, len(answered)).astype(float)
        expectation = np.clip(
            np.round(perception + offset + rng.normal(0, 0.5, len(answered))), 1, 7
        )
        perception = np.clip(perception, 1, 7)
        rows.append(
            pd.DataFrame(
                {
                    "customer_id": answered["customer_id"].to_numpy(),
                    "surveyed_on": pd.Timestamp("2025-02-01"),
                    "dimension": dimension,
                    "expectation": expectation,
                    "perception": perception,
                }
            )
        )
    surveys = pd.concat(rows, ignore_index=True)
    return scores, segments, labels, surveys


@pytest.fixture(scope="module")
def world():
    scores, segments, labels, surveys = planted_world()
    return scores, segments, build_service_strategy(scores, segments, surveys, labels)


def test_every_segment_has_an_action_for_every_gap_it_ranks(world, rules):
    _, segments, result = world
    matrix = result.segment_strategy_matrix
    assert list(matrix.columns) == list(MATRIX_COLUMNS)
    assert set(matrix["segment_id"]) == set(segments["segment_id"])
    assert (matrix.groupby("segment_id")["dimension"].nunique() == 5).all()
    gaps = matrix[matrix["gap"] > 0]
    assert len(gaps) > 0
    dimension_of = dict(zip(rules["action_code"], rules["dimension"], strict=True))
    for cell in gaps.itertuples(index=False):
        codes = [c for c in cell.action_codes.split(" | ") if c]
        assert 1 <= len(codes) <= 3, (cell.segment_id, cell.dimension)
        assert {dimension_of[c] for c in codes} == {cell.dimension}
        assert cell.actions
    # ranks are 1..5 per segment, rank 1 the largest gap
    for _, cells in matrix.groupby("segment_id"):
        assert sorted(cells["rank"]) == [1, 2, 3, 4, 5]
        top = cells.loc[cells["rank"] == 1, "gap"].iloc[0]
        assert top == cells["gap"].max()


def test_top_three_actions_per_customer_with_reasons(world, rules):
    scores, _, result = world
    actions = result.customer_service_actions
    assert list(actions.columns) == list(ACTION_COLUMNS)
    per_customer = actions.groupby("customer_id")
    assert per_customer.size().max() == 3
    assert (
        per_customer["action_rank"].apply(lambda r: sorted(r) == list(range(1, len(r) + 1)))
    ).all()
    assert not actions.duplicated(["customer_id", "action_code"]).any()
    # priority never gets worse with a better rank
    ordered = actions.sort_values(["customer_id", "action_rank"])
    assert (ordered.groupby("customer_id")["priority"].diff().dropna() >= 0).all()
    assert actions["dimension"].isin(SERVQUAL_DIMENSIONS).all()
    assert actions["reason"].str.len().gt(20).all()
    assert not actions["reason"].str.contains("{", regex=False).any()  # templates filled in
    assert not PII_COLUMNS & set(actions.columns)
    # most customers get at least one action on a month with gaps everywhere
    assert actions["customer_id"].nunique() > 0.8 * len(scores)


def test_reason_names_the_facts_and_the_gap(rules):
    frame = rows_frame([{"arrears_grade": "E", "arrears_tier": "high", "unpaid_bills_at_as_of": 2}])
    surveys = flat_surveys(frame["customer_id"])
    surveys.loc[surveys["dimension"] == "empathy", "expectation"] += 2
    actions = actions_for(frame, surveys, StrategyConfig(), rules).customer_service_actions
    plan = actions.set_index("action_code").loc["payment_plan"]
    assert plan["action_rank"] == 1 and plan["priority"] == 1 and plan["dimension"] == "empathy"
    assert plan["reason"].startswith("high arrears risk: credit grade E, 2 bills overdue; ")
    # one customer answered: the segment borrows the population's figure, and says so
    assert "empathy is this segment's largest gap (2.0)" in plan["reason"]
    assert "population figure: the segment has only 1 answers" in plan["reason"]


def test_bad_strategy_rules_are_clear_errors(rules):
    with pytest.raises(ValueError, match="repeat action_code"):
        validate_strategy_rules(pd.concat([rules, rules.head(1)]))
    with pytest.raises(ValueError, match="unknown dimension"):
        validate_strategy_rules(rules.assign(dimension="speed"))
    with pytest.raises(ValueError, match=r"no action for dimension\(s\) \['tangibles'\]"):
        validate_strategy_rules(rules[rules["dimension"] != "tangibles"])
    with pytest.raises(ValueError, match="priority must be a whole number"):
        validate_strategy_rules(rules.assign(priority="high"))
    frame = rows_frame([{}])
    unknown_label = rules.copy()
    unknown_label.loc[0, "applies_when"] = "has_label('vip')"
    with pytest.raises(RuleError, match="unknown label code 'vip'"):
        actions_for(frame, rules=unknown_label)
    unknown_dimension = rules.copy()
    unknown_dimension.loc[0, "applies_when"] = "segment_gap('speed') > 0"
    with pytest.raises(RuleError, match="unknown SERVQUAL dimension 'speed'"):
        actions_for(frame, rules=unknown_dimension)
    bad_template = rules.copy()
    bad_template.loc[bad_template["action_code"] == "community_liaison", "reason"] = "{nope}"
    with pytest.raises(RuleError, match="unknown column 'nope'"):
        actions_for(rows_frame([{"is_community_account": True}]), rules=bad_template)


def test_surveys_out_of_range_are_a_clear_error():
    frame = rows_frame([{}])
    surveys = flat_surveys(frame["customer_id"]).assign(perception=9.0)
    with pytest.raises(ValueError, match="perception missing or outside 1-7"):
        servqual_gaps(surveys, segments_of(frame))
