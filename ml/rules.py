"""Rule expressions of the versioned seeds (labels, points, strategy): parsed, checked, evaluated.

pandas `DataFrame.eval` syntax plus vectorised helpers; every error names the rule that failed.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

# pandas' own elementwise maths inside DataFrame.eval; anything else is a helper below or an error
EVAL_FUNCTIONS = frozenset({"abs", "sqrt", "log", "log1p", "exp", "expm1"})


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
