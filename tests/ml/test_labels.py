"""Label registry: every rule on hand-built rows, the long table's shape and expiry, clear errors.

`CASES` holds, for every label of the registry, rows (changes to a neutral customer) and the value
the label must take on each (None = the customer does not carry it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml.labels import (
    CUSTOMER_LABEL_COLUMNS,
    FLAG_VALUE,
    LABEL_DIMENSIONS,
    evaluate_labels,
    label_frequencies,
    load_label_registry,
    required_columns,
    valid_until,
)
from ml.rules import RuleError, evaluate_rule
from ml.seeds import Seed
from tests.ml.test_segmentation import PII_COLUMNS, planted_scores

MONTH = pd.Timestamp("2025-06-01")
T = FLAG_VALUE

# a customer on whom no yes/no label fires
NEUTRAL = {
    "level1_category": "other",
    "customer_type": "residential",
    "industry_code": "R",
    "voltage_level": "0.22kV",
    "tariff": "residential_tiered",
    "importance_grade": "none",
    "key_enterprise_flag": False,
    "is_community_account": False,
    "holder_age_years": 40.0,
    "tenure_months": 30,
    "kwh_12m": 2000.0,
    "kwh_growth_ratio": 0.0,
    "auto_debit_share_12m": 0.0,
    "online_payment_share_12m": 0.0,
    "on_time_payment_rate_12m": 0.9,
    "late_payment_rate_12m": 0.1,
    "unpaid_bills_at_as_of": 0,
    "arrears_grade": "B",
    "arrears_tier": "low",
    "arrears_score": 20.0,
    "outage_sensitivity_tier": "low",
    "outage_sensitivity_score": 10.0,
    "outages_experienced_12m": 1,
    "outage_contact_rate_12m": 0.0,
    "complaints_12m": 0,
    "digital_tier": "hybrid",
    "digital_share_12m": 0.4,
    "counter_frequency_12m": 2,
    "interactions_12m": 10,
    "preferred_channel": "app",
    "channel_activity_score": 50.0,
    "contribution_level": 3,
    "contribution_score": 50.0,
    "inspection_tier": "low",
    "inspection_score": 5.0,
    "past_positive_inspections": 0,
    "consumption_drop_ratio": 0.0,
}

CASES: dict[str, list[tuple[dict, str | None]]] = {
    "customer_type": [({}, "residential"), ({"customer_type": "industrial"}, "industrial")],
    "industry": [({}, "R"), ({"industry_code": "C13"}, "C13"), ({"industry_code": None}, None)],
    "voltage_level": [({}, "0.22kV"), ({"voltage_level": "10kV"}, "10kV")],
    "tenure_band": [
        ({"tenure_months": 0}, "new"),
        ({"tenure_months": 11}, "new"),
        ({"tenure_months": 12}, "established"),
        ({"tenure_months": 59}, "established"),
        ({"tenure_months": 60}, "long"),
        ({"tenure_months": 180}, "veteran"),
    ],
    "age_band": [
        ({"holder_age_years": 34.0}, "young"),
        ({"holder_age_years": 35.0}, "middle-aged"),
        ({"holder_age_years": 50.0}, "mature"),
        ({"holder_age_years": 60.0}, "elderly"),
        ({"holder_age_years": np.nan}, None),
    ],
    "important_customer": [({}, None), ({"importance_grade": "second"}, T)],
    "key_enterprise": [({}, None), ({"key_enterprise_flag": True}, T)],
    "community_account": [({}, None), ({"is_community_account": True}, T)],
    # ten residents with 1..10 kWh: bottom 30 % low, top 20 % high; one business ranks alone
    "consumption_level": [({"kwh_12m": float(k)}, None) for k in range(1, 11)]
    + [({"customer_type": "industrial", "kwh_12m": 5.0}, "low"), ({"kwh_12m": np.nan}, None)],
    "consumption_growing": [({"kwh_growth_ratio": 0.14}, None), ({"kwh_growth_ratio": 0.15}, T)],
    "consumption_declining": [
        ({"kwh_growth_ratio": -0.1}, None),
        ({"kwh_growth_ratio": -0.2}, T),
    ],
    "residential_tier_reached": [
        ({"kwh_12m": 2159.0}, "tier 1"),
        ({"kwh_12m": 2160.0}, "tier 2"),
        ({"kwh_12m": 5000.0}, "tier 3"),
        ({"kwh_12m": 5000.0, "tariff": "general_commercial"}, None),
    ],
    "auto_debit": [({"auto_debit_share_12m": 0.79}, None), ({"auto_debit_share_12m": 0.8}, T)],
    "online_payer": [({}, None), ({"online_payment_share_12m": 0.5}, T)],
    "always_on_time": [
        ({}, None),
        ({"on_time_payment_rate_12m": 1.0}, T),
        ({"on_time_payment_rate_12m": 1.0, "unpaid_bills_at_as_of": 1}, None),
    ],
    "frequently_late": [({}, None), ({"late_payment_rate_12m": 0.25}, T)],
    "currently_overdue": [({}, None), ({"unpaid_bills_at_as_of": 2}, T)],
    "high_arrears_risk": [
        ({}, None),
        ({"arrears_tier": "high"}, T),
        ({"arrears_tier": "medium"}, None),
    ],
    "arrears_grade": [({}, "B"), ({"arrears_grade": "E"}, "E")],
    "outage_sensitive": [({}, None), ({"outage_sensitivity_tier": "high"}, T)],
    "outage_reactive": [
        ({}, None),
        ({"outage_contact_rate_12m": 0.5}, T),
        ({"outage_contact_rate_12m": 0.5, "outages_experienced_12m": 0}, None),
    ],
    "complaint_prone": [({"complaints_12m": 1}, None), ({"complaints_12m": 2}, T)],
    "digital_first": [({}, None), ({"digital_tier": "digital-first"}, T)],
    "counter_only": [
        ({}, None),
        ({"counter_frequency_12m": 10}, T),
        ({"counter_frequency_12m": 0, "interactions_12m": 0}, None),
    ],
    "no_contact": [({}, None), ({"interactions_12m": 0, "counter_frequency_12m": 0}, T)],
    "preferred_channel": [({}, "app"), ({"preferred_channel": "counter"}, "counter")],
    "digital_tier": [({}, "hybrid"), ({"digital_tier": "offline"}, "offline")],
    "contribution_level": [
        ({"contribution_level": 1}, "level 1 (lowest)"),
        ({"contribution_level": 3}, "level 3"),
        ({"contribution_level": 5}, "level 5 (highest)"),
    ],
    "high_value": [({}, None), ({"contribution_level": 4}, T)],
    "rising_value": [
        ({}, None),
        ({"kwh_growth_ratio": 0.2}, T),
        ({"kwh_growth_ratio": 0.2, "contribution_level": 4}, None),
    ],
    "inspection_priority": [({}, None), ({"inspection_tier": "high"}, T)],
    "inspection_watch": [({}, None), ({"inspection_tier": "medium"}, T)],
    "past_violation": [({}, None), ({"past_positive_inspections": 1}, T)],
    "consumption_drop": [
        ({"consumption_drop_ratio": 0.49}, None),
        ({"consumption_drop_ratio": 0.5}, T),
    ],
}
# the ten residents of the consumption_level case, in order of kWh
CASES["consumption_level"][:10] = [
    (changes, "low" if k < 3 else "high" if k >= 8 else "medium")
    for k, (changes, _) in enumerate(CASES["consumption_level"][:10])
]


def rows_frame(changes: list[dict]) -> pd.DataFrame:
    records = [NEUTRAL | change for change in changes]
    frame = pd.DataFrame.from_records(records)
    frame.insert(0, "customer_id", [f"C{i:04d}" for i in range(len(records))])
    frame.insert(1, "as_of_month", MONTH)
    for score in ("outage_sensitivity_score", "arrears_score", "inspection_score"):
        frame[score] = frame[score].astype(float)
    return frame


@pytest.fixture(scope="module")
def registry() -> pd.DataFrame:
    return load_label_registry()


def test_every_label_has_cases(registry):
    assert set(CASES) == set(registry["code"])


def test_registry_covers_the_six_dimensions(registry):
    assert len(registry) >= 25
    assert set(registry["dimension"]) == set(LABEL_DIMENSIONS)
    assert registry["code"].is_unique
    assert (registry["validity_months"] >= 1).all()


@pytest.mark.parametrize("code", sorted(CASES))
def test_label_rule_on_hand_built_rows(code, registry):
    changes = [c for c, _ in CASES[code]]
    expected = [e for _, e in CASES[code]]
    frame = rows_frame(changes)
    labels = evaluate_labels(frame, registry[registry["code"] == code])
    got = labels.set_index("customer_id")["value"].reindex(frame["customer_id"])
    assert [None if pd.isna(v) else v for v in got] == expected


def test_neutral_customer_carries_no_flag(registry):
    labels = evaluate_labels(rows_frame([{}]), registry)
    assert FLAG_VALUE not in set(labels["value"])
    # and the valued labels it carries: the basic attributes and the model grades
    assert set(labels["label_code"]) == {
        "customer_type", "industry", "voltage_level", "tenure_band", "age_band",
        "consumption_level", "residential_tier_reached", "arrears_grade", "preferred_channel",
        "digital_tier", "contribution_level",
    }  # fmt: skip


def test_long_table_shape_scores_and_expiry(registry):
    frame = rows_frame([{"complaints_12m": 4, "inspection_tier": "high", "inspection_score": 88.0}])
    labels = evaluate_labels(frame, registry)
    assert list(labels.columns) == list(CUSTOMER_LABEL_COLUMNS)
    assert not labels.duplicated(["customer_id", "label_code"]).any()
    complaint = labels.set_index("label_code").loc["complaint_prone"]
    assert complaint["score"] == 4.0 and complaint["dimension"] == "service"
    assert complaint["valid_until"] == pd.Timestamp("2025-09-30")  # 3 months, month end
    inspection = labels.set_index("label_code").loc["inspection_priority"]
    assert inspection["score"] == 88.0
    assert inspection["valid_until"] == pd.Timestamp("2025-07-31")  # 1 month
    assert (labels["as_of_month"] == MONTH).all()


def test_valid_until_is_a_month_end():
    assert valid_until(pd.Timestamp("2025-01-01"), 1) == pd.Timestamp("2025-02-28")
    assert valid_until(pd.Timestamp("2024-01-01"), 1) == pd.Timestamp("2024-02-29")
    assert valid_until(pd.Timestamp("2025-11-01"), 12) == pd.Timestamp("2026-11-30")


def test_unknown_column_names_label_and_column(registry):
    frame = rows_frame([{}]).drop(columns="late_payment_rate_12m")
    with pytest.raises(RuleError, match=r"label 'frequently_late'.*late_payment_rate_12m"):
        evaluate_labels(frame, registry)
    bad = pd.DataFrame(
        [{"code": "x_label", "name": "X", "dimension": "risk", "rule": "no_such_col > 1",
          "validity_months": "1", "description": ""}]
    )  # fmt: skip
    with pytest.raises(RuleError, match=r"label 'x_label'.*no_such_col"):
        evaluate_labels(rows_frame([{}]), bad)


def test_bad_rules_are_clear_errors():
    frame = rows_frame([{}])
    with pytest.raises(RuleError, match="cannot parse"):
        evaluate_rule(frame, "kwh_12m >", owner="label 'x'")
    with pytest.raises(RuleError, match="unknown function 'eval'"):
        evaluate_rule(frame, "eval('1')", owner="label 'x'")
    with pytest.raises(RuleError, match="only available in strategy rules"):
        evaluate_rule(frame, "has_label('digital_first')", owner="label 'x'")
    with pytest.raises(RuleError, match="one label more than edges"):
        evaluate_rule(frame, "band(kwh_12m, [1, 2], ['a', 'b'])", owner="label 'x'")
    with pytest.raises(RuleError, match=r"unknown column\(s\) tarif"):
        evaluate_rule(frame, "band(kwh_12m, [1], ['a', 'b'], where=\"tarif == 'x'\")", owner="x")


def test_registry_validation():
    base = {"code": "a", "name": "A", "dimension": "risk", "rule": "True",
            "validity_months": "1", "description": ""}  # fmt: skip
    from ml.labels import validate_label_registry

    with pytest.raises(ValueError, match="repeats"):
        validate_label_registry(pd.DataFrame([base, base]))
    with pytest.raises(ValueError, match="unknown dimension"):
        validate_label_registry(pd.DataFrame([base | {"dimension": "mood"}]))
    with pytest.raises(ValueError, match="validity_months"):
        validate_label_registry(pd.DataFrame([base | {"validity_months": "0"}]))


def test_seed_checks_name_the_seed_the_column_and_the_rows(tmp_path):
    seed = Seed("test rules", "test_rules.csv", ("code", "level"), key="code", row="rule",
                plural=True, optional_text=("note",))  # fmt: skip
    path = tmp_path / "test_rules.csv"
    path.write_text("code,level\nNA,2\nb,\n", encoding="utf-8")
    rules = seed.read(path)  # as written: "NA" stays text, an empty cell is ""
    assert rules.to_dict("records") == [{"code": "NA", "level": "2"}, {"code": "b", "level": ""}]
    checked = seed.checked(rules)
    assert checked["note"].tolist() == ["", ""] and "note" not in rules.columns
    with pytest.raises(ValueError, match=r"^test rules lack column\(s\) \['level'\]$"):
        seed.checked(rules.drop(columns="level"))
    with pytest.raises(ValueError, match=r"^test rules repeat code\(s\) \['b'\]$"):
        seed.require_unique_key(pd.concat([rules, rules.tail(1)]))
    with pytest.raises(ValueError, match=r"^level must be a whole number for rule\(s\) \['b'\]$"):
        seed.whole_numbers(rules, "level")
    with pytest.raises(ValueError, match=r"whole number >= 3 for rule\(s\) \['NA'\]$"):
        seed.whole_numbers(rules.head(1), "level", minimum=3)
    assert seed.whole_numbers(rules.head(1), "level", minimum=1).tolist() == [2]
    one = Seed("registry", "registry.csv", ("code",), key="code")
    with pytest.raises(ValueError, match=r"^registry has unknown code\(s\) \['NA', 'b'\]; use x$"):
        one.require_known(rules, "code", ["x"], "; use x")
    with pytest.raises(ValueError, match=r"^registry lacks column\(s\) \['code'\]$"):
        one.checked(pd.DataFrame({"other": []}))


def test_required_columns_are_in_the_documented_input(registry):
    columns = required_columns(registry)
    scores, _ = planted_scores(n_other=300, small_categories={})
    assert columns <= set(scores.columns)
    assert {"late_payment_rate_12m", "digital_tier", "holder_age_years"} <= columns


def test_labels_and_frequencies_on_a_month(registry):
    scores, _ = planted_scores(n_other=600, small_categories={"important": 40})
    labels = evaluate_labels(scores, registry)
    assert labels["customer_id"].nunique() == len(scores)
    assert not PII_COLUMNS & set(labels.columns)
    counts = label_frequencies(labels, registry, n_customers=len(scores))
    types = counts[counts["label_code"] == "customer_type"]
    assert types["customers"].sum() == len(scores)
    important = counts.set_index("label_code").loc["important_customer"]
    assert important["customers"] == 40 and important["share"] == pytest.approx(40 / 640)
    # row order of the input does not matter
    shuffled = evaluate_labels(scores.sample(frac=1, random_state=1), registry)
    key = ["customer_id", "label_code"]
    pd.testing.assert_frame_equal(
        shuffled.sort_values(key, ignore_index=True), labels.sort_values(key, ignore_index=True)
    )
