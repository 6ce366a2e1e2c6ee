"""The frame the label, points and strategy rules are evaluated on: a month's factor scores
with the customer_360 and feature-mart columns the rules name.
"""

import datetime as dt
import string
from collections.abc import Iterable

import dagster as dg
import duckdb
import pandas as pd

from ml.labels import required_columns, rule_names
from ml.registry import REGISTRY
from orchestration.assets.monthly import CUSTOMER_360, SCORES
from powerseg.warehouse import table_columns

# every factor's feature mart, in registry order
FEATURE_MART_TABLES = tuple(f.feature_mart for f in REGISTRY)
# where rule inputs that customer_factor_scores lacks are looked up, first table first
PORTRAIT_SOURCES = ("marts.customer_360", *(f"marts.{mart}" for mart in FEATURE_MART_TABLES))
PORTRAIT_DEPS = [SCORES, CUSTOMER_360, *(dg.AssetKey(["marts", m]) for m in FEATURE_MART_TABLES)]


def template_fields(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def rule_inputs(
    label_registry: pd.DataFrame | None = None,
    points_rules: pd.DataFrame | None = None,
    strategy_rules: pd.DataFrame | None = None,
) -> set[str]:
    """Every column the label, points and strategy rules read (reason templates included)."""
    columns: set[str] = set()
    if label_registry is not None:
        columns |= required_columns(label_registry)
    if points_rules is not None:
        for rule in points_rules.itertuples(index=False):
            columns |= rule_names(rule.condition) | rule_names(str(rule.points))
    if strategy_rules is not None:
        for rule in strategy_rules.itertuples(index=False):
            columns |= rule_names(rule.applies_when) | template_fields(rule.reason)
    return columns


def portrait_frame(
    con: duckdb.DuckDBPyConnection, month: dt.date, columns: Iterable[str]
) -> pd.DataFrame:
    """The month's factor scores with the customer_360 and feature-mart columns the rules read.

    One row per scored customer. Columns found nowhere are left out: the rule evaluator then
    names the rule and the missing column.
    """
    scores_columns = set(table_columns(con, "marts.customer_factor_scores"))
    wanted = sorted(set(columns) - scores_columns)
    select, joins, params = ["s.*"], [], []
    for position, table in enumerate(PORTRAIT_SOURCES):
        available = set(table_columns(con, table))
        found = [c for c in wanted if c in available]
        if not found:
            continue
        alias = f"m{position}"
        select += [f"{alias}.{c}" for c in found]
        joins.append(
            f"left join {table} {alias} on {alias}.customer_id = s.customer_id "
            f"and {alias}.as_of_month = ?"
        )
        params.append(month)
        wanted = [c for c in wanted if c not in found]
    sql = (
        f"select {', '.join(select)} from marts.customer_factor_scores s {' '.join(joins)} "
        "where s.as_of_month = ? order by s.customer_id"
    )
    frame = con.execute(sql, [*params, month]).df()
    if frame.empty:
        raise dg.Failure(description=f"marts.customer_factor_scores has no rows for {month}")
    return frame
