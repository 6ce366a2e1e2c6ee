"""Customer portrait labels: a versioned registry of readable rules evaluated over the scores frame.

Also home of the rule evaluator shared by the label, points and strategy seeds (`evaluate_rule`).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ml.preprocessing import read_rules_csv

SEEDS_DIR = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds"
LABEL_REGISTRY_PATH = SEEDS_DIR / "label_registry.csv"

LABEL_DIMENSIONS = ("basic", "consumption", "payment", "service", "value", "risk")
LABEL_REGISTRY_COLUMNS = ("code", "name", "dimension", "rule", "validity_months", "description")
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

# pandas' own elementwise maths inside DataFrame.eval; anything else is a helper below or an error
EVAL_FUNCTIONS = frozenset({"abs", "sqrt", "log", "log1p", "exp", "expm1"})
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")


class RuleError(ValueError):
    """A seed rule cannot be evaluated; the message names the rule, the expression and why."""


@dataclass
class RuleContext:
    """What strategy rules may look at besides the frame's columns (labels and segment gaps).

    `labels`: label_code → value per row of the frame (None where the customer lacks the label),
    `known_label_codes`: every code of the registry, `gaps` / `gap_ranks`: dimension → the gap and
    its rank in the row's segment.
    """

    labels: dict[str, pd.Series] = field(default_factory=dict)
    known_label_codes: frozenset[str] = frozenset()
    gaps: dict[str, pd.Series] = field(default_factory=dict)
    gap_ranks: dict[str, pd.Series] = field(default_factory=dict)


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


# --------------------------------------------------------------------------- rule evaluation


def rule_names(expression: str) -> set[str]:
    """Column names an expression reads (helper and maths function names excluded)."""
    tree = _parse(expression, owner="rule")
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in called}
    for node in ast.walk(tree):
        # a helper's keyword/string arguments can hold expressions or column names too
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == "band":
                where = _keyword(node, "where")
                if where is not None:
                    names |= rule_names(ast.literal_eval(where))
            if node.func.id == "pct_rank":
                by = _keyword(node, "by") or (node.args[1] if len(node.args) > 1 else None)
                if by is not None:
                    names.add(ast.literal_eval(by))
    return names


def evaluate_rule(
    frame: pd.DataFrame,
    expression: str,
    *,
    owner: str,
    context: RuleContext | None = None,
) -> pd.Series:
    """Evaluate a seed expression row by row (vectorised) and return a Series on frame's index.

    The expression is pandas `DataFrame.eval` syntax (`late_payment_rate_12m >= 0.25 and
    customer_type == 'residential'`, `arrears_grade in ['D', 'E']`) plus the helpers `band`,
    `pct_rank`, `clip` and, in strategy rules, `has_label`, `label`, `segment_gap`, `gap_rank`,
    `gap_measured`.
    `owner` ("label 'digital_first'") starts every error message.
    """
    tree = _parse(expression, owner=owner)
    _check_names(frame, tree, expression, owner)
    placeholders: dict[str, Any] = {}
    tree = _HelperRewriter(frame, context, owner, placeholders).visit(tree)
    body = tree.body
    if isinstance(body, ast.Name) and body.id in placeholders:
        return placeholders[body.id]
    try:
        result = frame.eval(ast.unparse(tree), engine="python", resolvers=(placeholders,))
    except Exception as error:  # pandas raises many types; the caller needs the rule named
        raise RuleError(f"{owner}: rule {expression!r} failed: {error}") from error
    if not isinstance(result, pd.Series):  # a constant rule such as `True`
        result = pd.Series(result, index=frame.index)
    return result


def as_mask(values: pd.Series, *, owner: str, expression: str) -> pd.Series:
    """A boolean rule result with missing values read as False (unknown never qualifies)."""
    if not is_boolean(values):
        raise RuleError(f"{owner}: rule {expression!r} must be true/false, got {values.dtype}")
    return values.fillna(False).astype(bool)


def is_boolean(values: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(values.dtype):
        return True
    if values.dtype == object:
        present = values.dropna()
        return len(present) > 0 and present.map(type).isin([bool, np.bool_]).all()
    return False


def _parse(expression: str, *, owner: str) -> ast.Expression:
    if not isinstance(expression, str) or not expression.strip():
        raise RuleError(f"{owner}: empty rule")
    try:
        return ast.parse(expression.strip(), mode="eval")
    except SyntaxError as error:
        raise RuleError(f"{owner}: cannot parse rule {expression!r}: {error.msg}") from error


def _check_names(frame: pd.DataFrame, tree: ast.Expression, expression: str, owner: str) -> None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else None
            if name not in HELPERS and name not in EVAL_FUNCTIONS:
                shown = name or ast.unparse(node.func)
                allowed = ", ".join(sorted(HELPERS) + sorted(EVAL_FUNCTIONS))
                raise RuleError(
                    f"{owner}: rule {expression!r} calls unknown function {shown!r} "
                    f"(allowed: {allowed})"
                )
    missing = sorted(rule_names(expression) - set(map(str, frame.columns)))
    if missing:
        raise RuleError(
            f"{owner}: rule {expression!r} refers to unknown column(s) {', '.join(missing)}; "
            "the input frame has no such column"
        )


def _keyword(node: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in node.keywords if k.arg == name), None)


class _HelperRewriter(ast.NodeTransformer):
    """Replaces each helper call by a placeholder name bound to the helper's vectorised result."""

    def __init__(self, frame, context, owner, placeholders) -> None:
        self.frame, self.context, self.owner, self.placeholders = (
            frame,
            context,
            owner,
            placeholders,
        )

    def visit_Call(self, node: ast.Call) -> ast.AST:
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name not in HELPERS:
            return self.generic_visit(node)
        call = _HelperCall(self.frame, self.context, self.owner, name, node)
        placeholder = f"__helper_{len(self.placeholders)}"
        self.placeholders[placeholder] = HELPERS[name](call)
        return ast.copy_location(ast.Name(id=placeholder, ctx=ast.Load()), node)


@dataclass
class _HelperCall:
    frame: pd.DataFrame
    context: RuleContext | None
    owner: str
    name: str
    node: ast.Call

    def fail(self, message: str) -> RuleError:
        return RuleError(f"{self.owner}: {self.name}(): {message}")

    def expression_argument(self, position: int) -> pd.Series:
        if len(self.node.args) <= position:
            raise self.fail(f"needs argument {position + 1}")
        inner = ast.unparse(self.node.args[position])
        return evaluate_rule(self.frame, inner, owner=self.owner, context=self.context)

    def literal_argument(self, position: int, keyword: str | None = None, default: Any = None):
        node = self.node.args[position] if len(self.node.args) > position else None
        if node is None and keyword is not None:
            node = _keyword(self.node, keyword)
        if node is None:
            if default is not None:
                return default
            raise self.fail(f"needs argument {keyword or position + 1}")
        try:
            return ast.literal_eval(node)
        except ValueError as error:
            raise self.fail(f"argument {ast.unparse(node)!r} must be a literal") from error

    def require_context(self) -> RuleContext:
        if self.context is None:
            raise self.fail("is only available in strategy rules (needs labels and gaps)")
        return self.context


def _band(call: _HelperCall) -> pd.Series:
    """band(value, [e1, ..., en], [l0, ..., ln], where="...") → l0 below e1, li in [ei, ei+1)."""
    values = pd.to_numeric(call.expression_argument(0), errors="coerce").astype("float64")
    edges = list(call.literal_argument(1, "edges"))
    names = list(call.literal_argument(2, "labels"))
    if len(names) != len(edges) + 1:
        raise call.fail(f"needs one label more than edges, got {len(edges)} edges, {len(names)}")
    if any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
        raise call.fail(f"edges must increase, got {edges}")
    positions = np.searchsorted(np.asarray(edges, dtype="float64"), values.to_numpy(), "right")
    banded = pd.Series(np.asarray(names, dtype=object)[positions], index=values.index, dtype=object)
    banded[values.isna()] = None
    where = _keyword(call.node, "where")
    if where is not None:
        condition = evaluate_rule(
            call.frame, ast.literal_eval(where), owner=call.owner, context=call.context
        )
        banded[~as_mask(condition, owner=call.owner, expression=ast.literal_eval(where))] = None
    return banded


def _pct_rank(call: _HelperCall) -> pd.Series:
    """pct_rank(value, by='column'): share of the month's customers (in the group) below the value.

    In [0, 1): `>= 0.8` is the top 20 %, `< 0.3` the bottom 30 %; ties share the lower rank.
    """
    values = pd.to_numeric(call.expression_argument(0), errors="coerce").astype("float64")
    by = call.literal_argument(1, "by", default="")
    if not by:
        return (values.rank(method="min") - 1) / values.count()
    if by not in call.frame.columns:
        raise call.fail(f"unknown column {by!r} in by=")
    groups = values.groupby(call.frame[by].to_numpy(), dropna=False)
    return (groups.rank(method="min") - 1) / groups.transform("count")


def _clip(call: _HelperCall) -> pd.Series:
    values = pd.to_numeric(call.expression_argument(0), errors="coerce")
    return values.clip(call.literal_argument(1, "lower"), call.literal_argument(2, "upper"))


def _label_code(call: _HelperCall) -> str:
    context = call.require_context()
    code = call.literal_argument(0, "code")
    if code not in context.known_label_codes:
        raise call.fail(f"unknown label code {code!r} (not in the label registry)")
    return code


def _has_label(call: _HelperCall) -> pd.Series:
    code = _label_code(call)
    values = call.context.labels.get(code)
    if values is None:
        return pd.Series(False, index=call.frame.index)
    return values.notna()


def _label_value(call: _HelperCall) -> pd.Series:
    code = _label_code(call)
    values = call.context.labels.get(code)
    if values is None:
        return pd.Series(None, index=call.frame.index, dtype=object)
    return values


def _dimension_series(call: _HelperCall, which: str) -> pd.Series:
    context = call.require_context()
    dimension = call.literal_argument(0, "dimension")
    table = context.gaps if which == "gap" else context.gap_ranks
    if dimension not in table:
        raise call.fail(f"unknown SERVQUAL dimension {dimension!r} (known: {sorted(table)})")
    return table[dimension]


HELPERS: dict[str, Callable[[_HelperCall], pd.Series]] = {
    "band": _band,
    "pct_rank": _pct_rank,
    "clip": _clip,
    "has_label": _has_label,
    "label": _label_value,
    "segment_gap": lambda call: _dimension_series(call, "gap"),
    "gap_rank": lambda call: _dimension_series(call, "rank"),
    # whether any satisfaction-survey answer measures the dimension for the row's segment (its
    # own, its category's or the population's): false when the extract has no surveys
    "gap_measured": lambda call: _dimension_series(call, "gap").notna(),
}


# --------------------------------------------------------------------------- registry


def load_label_registry(path: str | Path | None = None) -> pd.DataFrame:
    """The label registry seed, validated (codes unique, dimensions known, validity positive)."""
    registry = read_rules_csv(path or LABEL_REGISTRY_PATH)
    return validate_label_registry(registry)


def validate_label_registry(registry: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in LABEL_REGISTRY_COLUMNS if c not in registry.columns]
    if missing:
        raise ValueError(f"label registry lacks column(s) {missing}")
    registry = registry.copy()
    if "score_rule" not in registry.columns:
        registry["score_rule"] = ""
    registry["score_rule"] = registry["score_rule"].fillna("").astype(str)
    bad_codes = [c for c in registry["code"] if not _IDENTIFIER.match(str(c))]
    if bad_codes:
        raise ValueError(f"label codes must be snake_case identifiers, got {bad_codes}")
    duplicated = registry["code"][registry["code"].duplicated()].tolist()
    if duplicated:
        raise ValueError(f"label registry repeats code(s) {duplicated}")
    unknown = sorted(set(registry["dimension"]) - set(LABEL_DIMENSIONS))
    if unknown:
        raise ValueError(
            f"label registry has unknown dimension(s) {unknown}; use {LABEL_DIMENSIONS}"
        )
    validity = pd.to_numeric(registry["validity_months"], errors="coerce")
    invalid = registry.loc[~(validity >= 1) | (validity % 1 != 0), "code"].tolist()
    if invalid:
        raise ValueError(f"validity_months must be a whole number >= 1 for label(s) {invalid}")
    registry["validity_months"] = validity.astype(int)
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
