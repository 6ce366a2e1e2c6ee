"""Loyalty points: a monthly ledger granted by the versioned rules in seeds/points_rules.csv.

`points_ledger` scores one month; `points_balance` accumulates the ledgers of all months.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ml.labels import require_unique_customers, single_month
from ml.rules import as_mask, evaluate_rule
from ml.seeds import Seed

POINTS_RULES = Seed(
    "points rules",
    "points_rules.csv",
    columns=("rule_code", "description", "condition", "points", "rule_version"),
    key="rule_code",
    row="points rule",
    plural=True,
)
LEDGER_COLUMNS = ("as_of_month", "customer_id", "rule_code", "points", "rule_version")
BALANCE_COLUMNS = ("customer_id", "as_of_month", "points_month", "points_balance")


def load_points_rules(path: str | Path | None = None) -> pd.DataFrame:
    return validate_points_rules(POINTS_RULES.read(path))


def validate_points_rules(rules: pd.DataFrame) -> pd.DataFrame:
    rules = POINTS_RULES.checked(rules)
    POINTS_RULES.require_unique_key(rules)
    empty = rules.loc[(rules["condition"] == "") | (rules["points"] == ""), "rule_code"].tolist()
    if empty:
        raise ValueError(f"points rule(s) {empty} need a condition and points")
    return rules.astype({"points": str}).reset_index(drop=True)


def points_ledger(scores: pd.DataFrame, rules: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per customer and rule that granted points this month (zero grants are left out).

    `condition` is a true/false expression over the scores frame, `points` a number or a numeric
    expression (`clip(tenure_months // 12, 1, 10)`), rounded to whole points.
    """
    rules = load_points_rules() if rules is None else validate_points_rules(rules)
    as_of_month = single_month(scores)
    require_unique_customers(scores)
    frame = scores.reset_index(drop=True)
    pieces = []
    for rule in rules.itertuples(index=False):
        owner = f"points rule {rule.rule_code!r}"
        granted = as_mask(
            evaluate_rule(frame, rule.condition, owner=owner),
            owner=owner,
            expression=rule.condition,
        ).to_numpy()
        points = pd.to_numeric(evaluate_rule(frame, rule.points, owner=f"{owner} points"))
        points = np.round(points.to_numpy(dtype="float64")[granted])
        points = np.nan_to_num(points, nan=0.0).astype("int64")
        keep = points != 0
        pieces.append(
            pd.DataFrame(
                {
                    "customer_id": frame["customer_id"].to_numpy()[granted][keep],
                    "rule_code": rule.rule_code,
                    "points": points[keep],
                    "rule_version": rule.rule_version,
                }
            )
        )
    ledger = pd.concat(pieces, ignore_index=True)
    ledger.insert(0, "as_of_month", as_of_month)
    return ledger.loc[:, list(LEDGER_COLUMNS)]


def points_balance(ledger_all_months: pd.DataFrame) -> pd.DataFrame:
    """Points earned per month and the running balance, per customer and as-of month.

    A customer has a row for every ledger month from their first grant on (0 earned in a month
    without grants), so the balance at any month is one lookup. Recomputed from all ledgers, so
    re-running a month (replacing its ledger) gives the same balances.
    """
    if ledger_all_months.empty:
        return pd.DataFrame(columns=list(BALANCE_COLUMNS))
    ledger = ledger_all_months.assign(as_of_month=pd.to_datetime(ledger_all_months["as_of_month"]))
    per_month = ledger.pivot_table(
        index="customer_id", columns="as_of_month", values="points", aggfunc="sum", fill_value=0
    ).sort_index(axis=1)
    earned = per_month.to_numpy(dtype="int64")
    balance = earned.cumsum(axis=1)
    # months before a customer's first grant are not part of their history
    started = (ledger.groupby(["customer_id", "as_of_month"]).size() > 0).unstack(fill_value=False)
    started = started.reindex(index=per_month.index, columns=per_month.columns, fill_value=False)
    active = np.maximum.accumulate(started.to_numpy(dtype=bool), axis=1)
    rows, columns = np.nonzero(active)
    result = pd.DataFrame(
        {
            "customer_id": per_month.index.to_numpy()[rows],
            "as_of_month": per_month.columns.to_numpy()[columns],
            "points_month": earned[rows, columns],
            "points_balance": balance[rows, columns],
        }
    )
    return result.sort_values(["customer_id", "as_of_month"], ignore_index=True)
