"""The raw gate's set-based evaluation of a large table: every check's counts from one aggregate
pass over the table and one over its distinct rows, shaped like Great Expectations' results.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from powerseg.quality.runner import quote
from powerseg.quality.specs import Check, content_columns, distinct_query


@dataclass(frozen=True)
class _Config:
    type: str


@dataclass(frozen=True)
class SetResult:
    """The parts of a GE validation result the raw gate reads, computed by our own SQL."""

    expectation_config: _Config
    success: bool
    result: dict[str, Any]
    exception_info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SetCounts:
    """Each check's result by its id, and the table's distinct rows (lineage aside)."""

    results: dict[str, SetResult]
    distinct_rows: int | None


def _result(check: Check, success: bool, result: dict[str, Any]) -> SetResult:
    return SetResult(_Config(check.expectation.expectation_type), success, result)


def _row_level(check: Check, element_count: int, unexpected: int) -> SetResult:
    counts = {"element_count": element_count, "unexpected_count": unexpected}
    return _result(check, unexpected == 0, counts)


def bind(sql: str, params: Mapping[str, Any]) -> sa.TextClause:
    """`sql` with its list parameters (allowed values) bound as IN (...) lists."""
    stmt = sa.text(sql)
    # Allowed-value lists bind as IN (...) lists.
    lists = [sa.bindparam(k, expanding=True) for k, v in params.items() if isinstance(v, list)]
    return stmt.bindparams(*lists) if lists else stmt


def _aggregate(
    conn: sa.Connection, qualified: str, filtered: Sequence[Check], maxed: Sequence[Check]
) -> Sequence[Any]:
    """Row count, each predicate check's offending rows and each freshness column's newest value,
    in one pass over the table."""
    parts = ["count(*)"]
    parts += [f"count(*) FILTER (WHERE {c.sample_where})" for c in filtered]
    parts += [f"max({quote(c.column)})" for c in maxed]
    params: dict[str, Any] = {}
    for c in filtered:
        params |= c.sample_params
    sql = f"SELECT {', '.join(parts)} FROM {qualified} AS t"
    return conn.execute(bind(sql, params), params).fetchone()


def _day_key(columns: Mapping[str, str], keys: Sequence[str]) -> str | None:
    """The key's DATE column, when it has exactly one (daily tables: customer and day)."""
    dates = [k for k in keys if str(columns.get(k, "")).upper() == "DATE"]
    return dates[0] if len(dates) == 1 and len(keys) > 1 else None


def _repeated_key_rows(qualified: str, keys: Sequence[str], day: str | None) -> str:
    """SQL of the rows whose key may be held by more than one row. For a daily key, found from
    one row per key and month with a bit per day (a repeated day shows as fewer days than rows)
    instead of grouping every key: at 10^6 customers a year of daily reads holds 3.6 x 10^8
    keys, 10^7 months."""
    if day is None:
        listed = ", ".join(quote(k) for k in keys)
        same = " AND ".join(f"t.{quote(k)} IS NOT DISTINCT FROM r.{quote(k)}" for k in keys)
        return (
            f"SELECT t.* FROM {qualified} AS t SEMI JOIN (SELECT {listed} FROM {qualified} "
            f"GROUP BY {listed} HAVING count(*) > 1) AS r ON {same}"
        )
    others = [k for k in keys if k != day]
    listed = ", ".join(quote(k) for k in others)
    d = quote(day)
    same = " AND ".join(f"t.{quote(k)} IS NOT DISTINCT FROM m.{quote(k)}" for k in others)
    return (
        f"SELECT t.* FROM {qualified} AS t LEFT JOIN ("
        f"SELECT {listed}, key_month FROM (SELECT {listed}, date_trunc('month', {d}) AS key_month, "
        f"count(*) AS n, bit_count(bit_or(CAST(1 AS BIGINT) << (day({d}) - 1))) AS days "
        f"FROM {qualified} WHERE {d} IS NOT NULL GROUP BY ALL) AS months WHERE n > days"
        f") AS m ON {same} AND date_trunc('month', t.{d}) = m.key_month "
        f"WHERE t.{d} IS NULL OR m.key_month IS NOT NULL"
    )


def _distinct(
    conn: sa.Connection,
    qualified: str,
    table,
    columns: Mapping[str, str],
    keys: Sequence[str],
    rows: int,
) -> tuple[int, int]:
    """Distinct rows, and distinct rows in keys held by more than one of them. A key with a null
    part is never a duplicate: GE joins each row to its key's count on equality."""
    if not keys:
        distinct = distinct_query(qualified, table, columns)
        total = conn.execute(sa.text(f"SELECT count(*) FROM ({distinct}) AS d")).scalar()
        return int(total), 0
    content = ", ".join(f"c.{quote(c)}" for c in content_columns(table, columns))
    listed = ", ".join(quote(k) for k in keys)
    complete = " AND ".join(f"{quote(k)} IS NOT NULL" for k in keys)
    same_key = " AND ".join(f"c.{quote(k)} IS NOT DISTINCT FROM g.{quote(k)}" for k in keys)
    candidates = _repeated_key_rows(qualified, keys, _day_key(columns, keys))
    # A key of one row is one distinct row: distinct rows = rows - rows of the keys held by
    # more than one + the distinct rows of those keys, computed on their few rows only.
    total, repeated = conn.execute(
        sa.text(
            f"WITH c AS MATERIALIZED ({candidates}), "
            f"g AS (SELECT {listed}, count(*) AS n FROM c GROUP BY {listed} HAVING count(*) > 1), "
            f"d AS (SELECT {listed}, count(*) AS n FROM (SELECT DISTINCT {content} "
            f"FROM c SEMI JOIN g ON {same_key}) AS x GROUP BY {listed}) "
            f"SELECT {int(rows)} - (SELECT coalesce(sum(n), 0) FROM g) "
            f"+ (SELECT coalesce(sum(n), 0) FROM d), "
            f"(SELECT coalesce(sum(n), 0) FROM d WHERE n > 1 AND {complete})"
        )
    ).fetchone()
    return int(total), int(repeated)


def set_based_counts(
    conn: sa.Connection,
    qualified: str,
    table,
    columns: Mapping[str, str],
    checks: Sequence[Check],
    *,
    with_distinct: bool,
) -> SetCounts | None:
    """Every check's result from at most two passes, or None when DuckDB cannot evaluate one
    of the predicates (then the GE runner judges the table, and says which check failed)."""
    unique = [c for c in checks if c.duplicate_keys]
    filtered = [c for c in checks if c.row_level and not c.duplicate_keys]
    maxed = [c for c in checks if c.id.startswith("fresh:")]
    try:
        row = _aggregate(conn, qualified, filtered, maxed)
        distinct = repeated = None
        if unique or with_distinct:
            keys = unique[0].duplicate_keys if unique else ()
            distinct, repeated = _distinct(conn, qualified, table, columns, keys, int(row[0]))
    except sa.exc.DBAPIError:
        conn.rollback()
        return None

    rows = int(row[0])
    results: dict[str, SetResult] = {}
    for check, unexpected in zip(filtered, row[1 : 1 + len(filtered)], strict=True):
        results[check.id] = _row_level(check, rows, int(unexpected))
    for check, newest in zip(maxed, row[1 + len(filtered) :], strict=True):
        # GE fails a column with no values, and compares the newest to the lower bound only.
        ok = newest is not None and newest >= check.expectation.min_value
        results[check.id] = _result(check, ok, {"observed_value": newest})
    for check in unique:
        results[check.id] = _row_level(check, distinct, repeated)
    for check in checks:
        if check.id == "row_count":
            results[check.id] = _result(check, rows >= 1, {"observed_value": rows})
        elif check.id.startswith("exists:"):
            results[check.id] = _result(check, check.column in columns, {})
    missing = [c.id for c in checks if c.id not in results]
    if missing:
        raise ValueError(f"the set-based gate has no evaluation for checks {missing}")
    return SetCounts(results, distinct)
