"""Customer portrait labels: a versioned registry of readable rules evaluated over the scores frame.

The rules are expressions of `ml.rules`; the registry is a seed checked by `ml.seeds`.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ml.rules import evaluate_rule, is_boolean, rule_names
from ml.seeds import Seed

LABEL_DIMENSIONS = ("basic", "consumption", "payment", "service", "value", "risk")
LABEL_REGISTRY = Seed(
    "label registry",
    "label_registry.csv",
    columns=("code", "name", "dimension", "rule", "validity_months", "description"),
    key="code",
    row="label",
    optional_text=("score_rule",),
)
CUSTOMER_LABEL_COLUMNS = (
    "as_of_month",
    "customer_id",
    "label_code",
    "dimension",
    "value",
    "score",
    "valid_until",
)
FLAG_VALUE = "true"  # the value of a yes/no label a customer carries
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")


def single_month(frame: pd.DataFrame, what: str = "scores") -> pd.Timestamp:
    """The one as-of month a frame holds (outputs are written a month at a time)."""
    if "as_of_month" not in frame.columns:
        raise ValueError(f"{what} has no as_of_month column")
    months = pd.to_datetime(frame["as_of_month"]).dropna().unique()
    if len(months) != 1:
        shown = sorted(str(pd.Timestamp(m).date()) for m in months)
        raise ValueError(f"{what} must hold exactly one as_of_month, found {shown or 'none'}")
    return pd.Timestamp(months[0]).normalize()


def require_unique_customers(frame: pd.DataFrame, what: str = "scores") -> None:
    if "customer_id" not in frame.columns:
        raise ValueError(f"{what} has no customer_id column")
    duplicated = frame["customer_id"].duplicated()
    if duplicated.any():
        examples = frame.loc[duplicated, "customer_id"].head(3).tolist()
        raise ValueError(
            f"{what} holds {int(duplicated.sum())} duplicate customer_id, e.g. {examples}"
        )


# --------------------------------------------------------------------------- registry


def load_label_registry(path: str | Path | None = None) -> pd.DataFrame:
    """The label registry seed, validated (codes unique, dimensions known, validity positive)."""
    return validate_label_registry(LABEL_REGISTRY.read(path))


def validate_label_registry(registry: pd.DataFrame) -> pd.DataFrame:
    registry = LABEL_REGISTRY.checked(registry)
    bad_codes = [c for c in registry["code"] if not _IDENTIFIER.match(str(c))]
    if bad_codes:
        raise ValueError(f"label codes must be snake_case identifiers, got {bad_codes}")
    LABEL_REGISTRY.require_unique_key(registry)
    LABEL_REGISTRY.require_known(
        registry, "dimension", LABEL_DIMENSIONS, f"; use {LABEL_DIMENSIONS}"
    )
    registry["validity_months"] = LABEL_REGISTRY.whole_numbers(registry, "validity_months", 1)
    registry["max_share"] = _max_shares(registry)
    return registry.reset_index(drop=True)


def _max_shares(registry: pd.DataFrame) -> pd.Series:
    """The optional `max_share` column as floats (NaN = no cap), each in (0, 1] and only on
    labels that have a score to rank their carriers by."""
    if "max_share" not in registry.columns:
        return pd.Series(np.nan, index=registry.index)
    text = registry["max_share"].astype("string").fillna("").str.strip()
    shares = pd.to_numeric(text.where(text != ""), errors="coerce")
    invalid = registry.loc[(text != "") & ~((shares > 0) & (shares <= 1)), "code"].tolist()
    if invalid:
        raise ValueError(f"max_share must be a share in (0, 1] or empty for label(s) {invalid}")
    unranked = registry.loc[shares.notna() & (registry["score_rule"] == ""), "code"].tolist()
    if unranked:
        raise ValueError(
            f"label(s) {unranked} have a max_share but no score_rule to choose who keeps them"
        )
    return shares.astype("float64")


def required_columns(registry: pd.DataFrame) -> set[str]:
    """Every input column the registry's rules read (what the scores frame must carry)."""
    columns: set[str] = set()
    for rule in registry["rule"]:
        columns |= rule_names(rule)
    for rule in registry.get("score_rule", pd.Series(dtype=str)):
        if rule:
            columns |= rule_names(rule)
    return columns


def valid_until(as_of_month: pd.Timestamp, validity_months: int) -> pd.Timestamp:
    """Last day of the month `validity_months` after the as-of month (labels expire)."""
    shifted = pd.Timestamp(as_of_month) + pd.DateOffset(months=int(validity_months))
    return (shifted + pd.offsets.MonthEnd(0)).normalize()


# --------------------------------------------------------------------------- evaluation


def evaluate_labels(scores: pd.DataFrame, registry: pd.DataFrame | None = None) -> pd.DataFrame:
    """The month's `customer_labels` long table: one row per customer and label carried.

    A yes/no rule gives the label (value "true") where it holds; a valued rule (a column, a `band`)
    gives its value where it is not null. `score` comes from the optional `score_rule`. A yes/no
    label with a `max_share` keeps only its highest-scored carriers up to that share of the
    month's customers; `result.attrs["capped"]` names the labels that were cut, with counts.
    """
    registry = load_label_registry() if registry is None else validate_label_registry(registry)
    as_of_month = single_month(scores)
    require_unique_customers(scores)
    frame = scores.reset_index(drop=True)
    pieces = []
    capped: dict[str, tuple[int, int]] = {}
    for label in registry.itertuples(index=False):
        owner = f"label {label.code!r}"
        result = evaluate_rule(frame, label.rule, owner=owner)
        if is_boolean(result):
            carried = result.fillna(False).astype(bool).to_numpy()
            values = np.full(int(carried.sum()), FLAG_VALUE, dtype=object)
        else:
            carried = result.notna().to_numpy()
            values = _as_text(result[carried])
        if label.score_rule:
            all_scores = pd.to_numeric(
                evaluate_rule(frame, label.score_rule, owner=f"{owner} score"), errors="coerce"
            ).to_numpy(dtype="float64")
            if np.isfinite(label.max_share):
                if not is_boolean(result):
                    raise ValueError(f"{owner}: max_share applies to yes/no labels only")
                kept = cap_carriers(carried, all_scores, label.max_share, frame["customer_id"])
                if kept.sum() < carried.sum():
                    capped[label.code] = (int(carried.sum()), int(kept.sum()))
                    carried = kept
                    values = np.full(int(carried.sum()), FLAG_VALUE, dtype=object)
            score = all_scores[carried]
        else:
            score = np.full(int(carried.sum()), np.nan)
        pieces.append(
            pd.DataFrame(
                {
                    "customer_id": frame["customer_id"].to_numpy()[carried],
                    "label_code": label.code,
                    "dimension": label.dimension,
                    "value": values,
                    "score": np.round(score, 4),
                    "valid_until": valid_until(as_of_month, label.validity_months),
                }
            )
        )
    labels = pd.concat(pieces, ignore_index=True) if pieces else pd.DataFrame()
    labels.insert(0, "as_of_month", as_of_month)
    labels = labels.loc[:, list(CUSTOMER_LABEL_COLUMNS)]
    # label code -> (customers the rule gave it, customers who kept it under max_share)
    labels.attrs["capped"] = capped
    return labels


# A share of a handful of customers (a pilot, a hand-checked sample) means nothing: no cap below.
MIN_CAPPED_POPULATION = 100


def cap_carriers(carried: np.ndarray, score: np.ndarray, max_share: float, customer_ids):
    """`carried` limited to the ceil(max_share · customers) carriers with the highest score
    (ties and missing scores broken by customer id, so a rerun keeps the same customers)."""
    limit = int(np.ceil(max_share * carried.size))
    if carried.size < MIN_CAPPED_POPULATION or carried.sum() <= limit:
        return carried
    order = np.lexsort(
        (
            np.asarray(customer_ids, dtype=str),
            -np.nan_to_num(score, nan=-np.inf),
            ~carried,  # carriers first
        )
    )
    kept = np.zeros(carried.size, dtype=bool)
    kept[order[:limit]] = True
    return kept & carried


def _as_text(values: pd.Series) -> np.ndarray:
    """Values as short text: whole floats without '.0' (contribution level 3, not 3.0)."""
    if pd.api.types.is_float_dtype(values.dtype):
        whole = np.isclose(values, np.round(values))
        text = values.map(lambda v: f"{v:g}").to_numpy(dtype=object)
        text[whole] = values[whole].round().astype("int64").astype(str).to_numpy(dtype=object)
        return text
    return values.astype(str).to_numpy(dtype=object)


def label_frequencies(
    customer_labels: pd.DataFrame,
    registry: pd.DataFrame | None = None,
    n_customers: int | None = None,
) -> pd.DataFrame:
    """How many customers carry each label (and value): dimension, code, name, value, share."""
    registry = load_label_registry() if registry is None else validate_label_registry(registry)
    if n_customers is None:
        n_customers = customer_labels["customer_id"].nunique()
    counts = (
        customer_labels.groupby(["label_code", "value"], observed=True)["customer_id"]
        .size()
        .rename("customers")
        .reset_index()
    )
    counts = counts.merge(
        registry[["code", "name", "dimension"]].rename(columns={"code": "label_code"}),
        on="label_code",
        how="left",
    )
    counts["share"] = counts["customers"] / max(int(n_customers), 1)
    order = {d: i for i, d in enumerate(LABEL_DIMENSIONS)}
    registry_order = {c: i for i, c in enumerate(registry["code"])}
    counts = counts.assign(
        _dimension=counts["dimension"].map(order), _code=counts["label_code"].map(registry_order)
    ).sort_values(["_dimension", "_code", "customers"], ascending=[True, True, False])
    columns = ["dimension", "label_code", "name", "value", "customers", "share"]
    return counts.loc[:, columns].reset_index(drop=True)
