"""Points: every rule of the seed on hand-built rows, the ledger's shape, balances over months."""

from __future__ import annotations

import pandas as pd
import pytest

from ml.points import (
    BALANCE_COLUMNS,
    LEDGER_COLUMNS,
    load_points_rules,
    points_balance,
    points_ledger,
    validate_points_rules,
)
from ml.rules import RuleError
from tests.ml.test_labels import rows_frame
from tests.ml.test_segmentation import PII_COLUMNS, planted_scores

# The neutral customer of the label tests earns only `no_arrears` (nothing overdue) and
# `tenure_years` (30 months = 2 full years).
NEUTRAL_POINTS = {"no_arrears": 5, "tenure_years": 2}

# rule_code -> [(changes to the neutral customer, points that rule grants; 0 = no entry)]
CASES: dict[str, list[tuple[dict, int]]] = {
    "on_time_payment": [
        ({}, 0),
        ({"on_time_payment_rate_12m": 0.998}, 0),
        ({"on_time_payment_rate_12m": 1.0}, 10),
    ],
    "no_arrears": [({}, 5), ({"unpaid_bills_at_as_of": 1}, 0)],
    "online_self_service": [
        ({}, 0),
        ({"online_payment_share_12m": 0.5}, 5),
        ({"digital_share_12m": 0.5}, 5),
    ],
    "auto_debit": [({"auto_debit_share_12m": 0.79}, 0), ({"auto_debit_share_12m": 0.8}, 3)],
    "tenure_years": [
        ({"tenure_months": 11}, 0),
        ({"tenure_months": 12}, 1),
        ({"tenure_months": 35}, 2),
        ({"tenure_months": 600}, 10),  # capped at 10 a month
    ],
}


def ledger_for(changes: list[dict], rules: pd.DataFrame, month: str = "2025-06-01"):
    frame = rows_frame(changes).assign(as_of_month=pd.Timestamp(month))
    return frame, points_ledger(frame, rules)


@pytest.fixture(scope="module")
def rules() -> pd.DataFrame:
    return load_points_rules()


def test_seed_rules_cover_the_spec(rules):
    # on-time payment, no arrears, consumption, online self-service, years of tenure
    assert {"on_time_payment", "no_arrears", "consumption_high", "online_self_service"} <= set(
        rules["rule_code"]
    )
    assert "tenure_years" in set(rules["rule_code"])
    assert (rules["rule_version"] != "").all()


@pytest.mark.parametrize("code", sorted(CASES))
def test_points_rule_on_hand_built_rows(code, rules):
    changes = [c for c, _ in CASES[code]]
    expected = [p for _, p in CASES[code]]
    frame, ledger = ledger_for(changes, rules[rules["rule_code"] == code])
    got = ledger.set_index("customer_id")["points"].reindex(frame["customer_id"]).fillna(0)
    assert got.astype(int).tolist() == expected


def test_consumption_bands_rank_within_customer_type(rules):
    # ten residents with 1..10 kWh: bottom 30 % nothing, middle band 4, top 20 % 8 points;
    # an industrial customer ranks among industrial customers only (alone: rank 0 → nothing)
    changes = [{"kwh_12m": float(k)} for k in range(1, 11)]
    changes.append({"customer_type": "industrial", "kwh_12m": 1e6})
    consumption = rules[rules["rule_code"].isin(["consumption_high", "consumption_medium"])]
    frame, ledger = ledger_for(changes, consumption)
    got = ledger.groupby("customer_id")["points"].sum().reindex(frame["customer_id"]).fillna(0)
    assert got.astype(int).tolist() == [0, 0, 0, 4, 4, 4, 4, 4, 8, 8, 0]


def test_neutral_customer_and_ledger_shape(rules):
    frame, ledger = ledger_for([{}, {"unpaid_bills_at_as_of": 3, "tenure_months": 5}], rules)
    assert list(ledger.columns) == list(LEDGER_COLUMNS)
    first = ledger[ledger["customer_id"] == frame["customer_id"][0]]
    assert dict(zip(first["rule_code"], first["points"], strict=True)) == NEUTRAL_POINTS
    # the second customer earns nothing: no row at all (zero grants are left out)
    assert frame["customer_id"][1] not in set(ledger["customer_id"])
    assert (ledger["points"] > 0).all()
    assert (ledger["rule_version"] == "v1").all()
    assert (ledger["as_of_month"] == pd.Timestamp("2025-06-01")).all()
    assert not ledger.duplicated(["customer_id", "rule_code"]).any()


def test_balance_accumulates_and_rerunning_a_month_gives_the_same(rules):
    months = ["2025-04-01", "2025-05-01", "2025-06-01"]
    # C0000 always earns 7; C0001 earns nothing in April, then 7 a month
    april = ledger_for([{}, {"unpaid_bills_at_as_of": 1, "tenure_months": 5}], rules, months[0])[1]
    may = ledger_for([{}, {}], rules, months[1])[1]
    june = ledger_for([{}, {}], rules, months[2])[1]
    balance = points_balance(pd.concat([april, may, june], ignore_index=True))
    assert list(balance.columns) == list(BALANCE_COLUMNS)
    first = balance[balance["customer_id"] == "C0000"]
    assert first["points_month"].tolist() == [7, 7, 7]
    assert first["points_balance"].tolist() == [7, 14, 21]
    second = balance[balance["customer_id"] == "C0001"]
    # no row before the first grant; the history starts in May
    assert second["as_of_month"].tolist() == [pd.Timestamp(m) for m in months[1:]]
    assert second["points_balance"].tolist() == [7, 14]
    # a month without grants after the first one: 0 earned, balance carried
    may_without_second = may[may["customer_id"] == "C0000"]
    gap = points_balance(pd.concat([april, may_without_second, june], ignore_index=True))
    assert gap[gap["customer_id"] == "C0001"]["points_month"].tolist() == [7]
    gap_first = gap[gap["customer_id"] == "C0000"]
    assert gap_first["points_balance"].tolist() == [7, 14, 21]
    # re-running May (its ledger replaced by an identical one) changes nothing
    again = points_balance(pd.concat([april, june, may], ignore_index=True))
    pd.testing.assert_frame_equal(again, balance)


def test_empty_ledger_gives_an_empty_balance():
    assert list(points_balance(pd.DataFrame(columns=list(LEDGER_COLUMNS))).columns) == list(
        BALANCE_COLUMNS
    )


def test_ledger_on_a_planted_month(rules):
    scores, _ = planted_scores(n_other=600, small_categories={"important": 40})
    ledger = points_ledger(scores, rules)
    assert not PII_COLUMNS & set(ledger.columns)
    assert set(ledger["rule_code"]) <= set(rules["rule_code"])
    assert ledger["customer_id"].isin(scores["customer_id"]).all()
    # every rule in the seed fires for somebody on a realistic month
    assert set(ledger["rule_code"]) == set(rules["rule_code"])
    # and the result does not depend on row order
    shuffled = points_ledger(scores.sample(frac=1, random_state=2), rules)
    key = ["customer_id", "rule_code"]
    pd.testing.assert_frame_equal(
        shuffled.sort_values(key, ignore_index=True), ledger.sort_values(key, ignore_index=True)
    )


def test_bad_rules_are_clear_errors(rules):
    frame = rows_frame([{}])
    with pytest.raises(ValueError, match="repeat rule_code"):
        validate_points_rules(pd.concat([rules, rules.head(1)]))
    with pytest.raises(ValueError, match="need a condition and points"):
        validate_points_rules(rules.assign(condition=""))
    with pytest.raises(ValueError, match="lack column"):
        validate_points_rules(rules.drop(columns="points"))
    not_boolean = rules.head(1).assign(condition="tenure_months")
    with pytest.raises(RuleError, match="must be true/false"):
        points_ledger(frame, not_boolean)
    unknown = rules.head(1).assign(condition="paid_early == True")
    with pytest.raises(RuleError, match=r"points rule 'on_time_payment'.*paid_early"):
        points_ledger(frame, unknown)
