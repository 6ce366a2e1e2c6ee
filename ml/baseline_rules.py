"""The one-line rules an analyst would write for each supervised factor: the bar a model must clear.

Each factor's registry entry names its rule; `ml/baselines.py` scores and calibrates them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml.preprocessing import numeric_matrix


def rule_input(frame: pd.DataFrame, name: str) -> np.ndarray:
    return np.nan_to_num(numeric_matrix(frame, [name])[:, 0], nan=0.0)


def arrears_rule(frame: pd.DataFrame) -> np.ndarray:
    unpaid = np.clip(rule_input(frame, "unpaid_amount_at_as_of_cny"), 0, None)
    # the unpaid amount only orders customers with the same bill counts: it adds less than one
    return (
        rule_input(frame, "late_payments_12m")
        + rule_input(frame, "unpaid_bills_at_as_of")
        + unpaid / (unpaid + 100.0)
    )


def outage_rule(frame: pd.DataFrame) -> np.ndarray:
    return rule_input(frame, "outages_experienced_12m") * (
        1 + rule_input(frame, "outage_contacts_72h_12m")
    )


def inspection_rule(frame: pd.DataFrame) -> np.ndarray:
    return rule_input(frame, "meter_events_3m") + np.clip(
        rule_input(frame, "consumption_drop_ratio"), 0, None
    )


@dataclass(frozen=True)
class BaselineRule:
    """A one-line risk rule: higher = riskier; `columns` are what its reasons quote."""

    name: str
    formula: str
    columns: tuple[str, ...]
    score: Callable[[pd.DataFrame], np.ndarray]


ARREARS_RULE = BaselineRule(
    "late bills and unpaid balance",
    "late_payments_12m + unpaid_bills_at_as_of + a / (a + 100), a = unpaid_amount_at_as_of_cny",
    ("late_payments_12m", "unpaid_bills_at_as_of", "unpaid_amount_at_as_of_cny"),
    arrears_rule,
)
OUTAGE_RULE = BaselineRule(
    "outages hit x past contacts",
    "outages_experienced_12m * (1 + outage_contacts_72h_12m)",
    ("outages_experienced_12m", "outage_contacts_72h_12m"),
    outage_rule,
)
INSPECTION_RULE = BaselineRule(
    "meter events and consumption drop",
    "meter_events_3m + max(consumption_drop_ratio, 0)",
    ("meter_events_3m", "consumption_drop_ratio"),
    inspection_rule,
)
