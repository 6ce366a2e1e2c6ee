"""The mart and output gates: a relation's spec run read-only in the DuckDB warehouse, one row per
customer and as-of month, every active customer present, no unexpected nulls, values in range.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import great_expectations as gx
import sqlalchemy as sa

from powerseg.quality.marts import KEY, SPINE, RelationSpec
from powerseg.quality.policy import ERROR, WARNING, ExpectationOutcome, Severity, TableResult
from powerseg.quality.runner import (
    Batch,
    catalog,
    evaluation_error,
    jsonable,
    jsonable_rows,
    missing_table_result,
    quote,
    run_batches,
    table_exists,
    table_result,
    unexpected_counts,
)
from powerseg.quality_ge import warehouse_engine


@dataclass
class RelationCheck:
    """One expectation of a relation's suite, with the query that samples its offending rows."""

    id: str
    name: str
    column: str | None
    expectation: Any
    severity: Severity = ERROR
    sample_sql: str | None = None  # offending rows, `{batch}` standing for the validated rows
    note: str = ""
    share_limit: float | None = None  # null-share checks: fail only above this share


def _newest_month(conn: sa.Connection) -> date | None:
    if not table_exists(conn, "marts", "customer_360"):
        return None
    value = conn.execute(sa.text(f"SELECT max(as_of_month) FROM {SPINE}")).scalar()
    return value.date() if isinstance(value, datetime) else value


def _skipped(conn: sa.Connection, qualified: str, month: date | None, tier: str) -> bool:
    """Whether the scored month holds only rows of a skipped factor (no scores at all)."""
    where = "WHERE CAST(as_of_month AS DATE) = :m" if month else ""
    row = conn.execute(
        sa.text(f"SELECT count(*), count(*) FILTER (WHERE tier = :t) FROM {qualified} {where}"),
        {"t": tier, "m": month},
    ).fetchone()
    return bool(row[0]) and row[0] == row[1]


def build_relation_checks(
    spec: RelationSpec,
    columns: Mapping[str, str],
    month: date | None,
    skipped: bool,
    all_null: frozenset[str] = frozenset(),
) -> list[RelationCheck]:
    spine_where = f"WHERE CAST(as_of_month AS DATE) = DATE '{month.isoformat()}'" if month else ""
    checks = [
        RelationCheck(
            "row_count",
            "expect_table_row_count_to_be_between(min=1)",
            None,
            gx.expectations.ExpectTableRowCountToBeBetween(min_value=1),
            note="no rows" + (f" for the scored month {month}" if month else ""),
        )
    ]
    for col in KEY:
        checks.append(
            RelationCheck(
                f"exists:{col}",
                f"expect_column_to_exist({col})",
                col,
                gx.expectations.ExpectColumnToExist(column=col),
            )
        )
    if not all(k in columns for k in KEY):
        return checks
    keys = ", ".join(KEY)
    checks.append(
        RelationCheck(
            "unique_key",
            f"expect_compound_columns_to_be_unique({keys})",
            None,
            gx.expectations.ExpectCompoundColumnsToBeUnique(column_list=list(KEY)),
            sample_sql=(
                f"SELECT {keys}, count(*) AS rows_per_key FROM {{batch}} "
                f"GROUP BY {keys} HAVING count(*) > 1 ORDER BY {keys}"
            ),
            note="one row per customer and as-of month",
        )
    )
    missing = (
        f"SELECT customer_id, CAST(as_of_month AS DATE) AS as_of_month FROM {spec.coverage_spine} "
        f"{spine_where} EXCEPT SELECT customer_id, CAST(as_of_month AS DATE) FROM {{batch}}"
    )
    # Only the months the spine holds: an incremental mart keeps months that earlier runs built
    # (and checked) outside the window this run's spine was rebuilt for.
    extra = (
        f"SELECT customer_id, CAST(as_of_month AS DATE) AS as_of_month FROM {{batch}} "
        f"WHERE CAST(as_of_month AS DATE) IN (SELECT DISTINCT CAST(as_of_month AS DATE) "
        f"FROM {spec.coverage_spine} {spine_where}) EXCEPT "
        f"SELECT customer_id, CAST(as_of_month AS DATE) FROM {spec.coverage_spine} {spine_where}"
    )
    for cid, sql, what in (
        ("missing", missing, "active customers missing"),
        ("extra", extra, "rows for customers who are not active"),
    ):
        checks.append(
            RelationCheck(
                f"coverage:{cid}",
                f"expect_no_unexpected_rows({what}, {spec.coverage_spine})",
                None,
                gx.expectations.UnexpectedRowsExpectation(unexpected_rows_query=sql),
                sample_sql=sql + " ORDER BY 1, 2",
                note=f"{what}: every active customer exactly once, against {spec.coverage_spine}",
            )
        )
    for col in columns:
        if col in spec.nullable:
            limit = spec.nullable[col]
            if limit >= 1.0:
                continue
            checks.append(
                RelationCheck(
                    f"null_share:{col}",
                    f"expect_column_values_to_not_be_null({col}, mostly={1 - limit:g})",
                    col,
                    gx.expectations.ExpectColumnValuesToNotBeNull(column=col, mostly=1 - limit),
                    severity=WARNING,
                    sample_sql=f"SELECT {keys} FROM {{batch}} WHERE {quote(col)} IS NULL "
                    f"ORDER BY {keys}",
                    share_limit=limit,
                    note=f"more than {limit:.0%} nulls",
                )
            )
            continue
        skipped_score = skipped and col not in (*KEY, "tier", "model_name", "model_version")
        if skipped_score and col != spec.score_column:
            # A skipped factor fills only the key and tier: said once, on the score, as a warning.
            continue
        skipped_score = skipped_score or col in all_null
        checks.append(
            RelationCheck(
                f"not_null:{col}",
                f"expect_column_values_to_not_be_null({col})",
                col,
                gx.expectations.ExpectColumnValuesToNotBeNull(column=col),
                severity=WARNING if skipped_score else ERROR,
                sample_sql=f"SELECT {keys} FROM {{batch}} WHERE {quote(col)} IS NULL "
                f"ORDER BY {keys}",
                note="factor skipped: its source table was empty, no scores this month"
                if skipped_score
                else "",
            )
        )
    for col, (lo, hi) in spec.ranges.items():
        if col not in columns:
            continue
        conds = [f"{quote(col)} < {lo}"] if lo is not None else []
        conds += [f"{quote(col)} > {hi}"] if hi is not None else []
        bounds = ", ".join(
            [
                *([f"min={lo:g}"] if lo is not None else []),
                *([f"max={hi:g}"] if hi is not None else []),
            ]
        )
        checks.append(
            RelationCheck(
                f"between:{col}",
                f"expect_column_values_to_be_between({col}, {bounds})",
                col,
                gx.expectations.ExpectColumnValuesToBeBetween(
                    column=col, min_value=lo, max_value=hi
                ),
                sample_sql=f"SELECT {keys}, {quote(col)} FROM {{batch}} WHERE {' OR '.join(conds)} "
                f"ORDER BY {keys}",
            )
        )
    return checks


def _relation_outcome(check: RelationCheck, result: Any, sampler) -> ExpectationOutcome:
    expectation_type = result.expectation_config.type
    raw = dict(result.result or {})
    unevaluated = evaluation_error(check, result)
    if unevaluated is not None:
        return unevaluated
    if "unexpected_count" in raw:
        observed, share = unexpected_counts(raw)
        limit = check.share_limit or 0.0
        success = (
            share <= limit if check.share_limit is not None else observed["unexpected_count"] == 0
        )
    else:
        observed = {"observed_value": jsonable(raw.get("observed_value"))}
        success = bool(result.success)
    return ExpectationOutcome(
        check.name,
        expectation_type,
        check.column,
        success,
        None if success else check.severity,
        observed,
        () if success else sampler(check),
        "" if success else check.note,
    )


def validate_relation(
    warehouse: str | Path,
    spec: RelationSpec,
    *,
    sample_size: int = 10,
    lock_timeout_seconds: float = 0.0,
) -> TableResult:
    """Validate a mart or output table read-only in the DuckDB file; the newest as-of month of
    marts.customer_360 only when the spec says so (an output is judged on the month it scored)."""
    display = spec.qualified
    with warehouse_engine(warehouse, lock_timeout_seconds) as (engine, conn):
        month = _newest_month(conn)
        if not table_exists(conn, spec.schema, spec.name):
            return missing_table_result(display, month)
        columns = catalog(conn, spec.schema, spec.name)
        scoped = month if spec.newest_month_only else None
        query = f"SELECT * FROM {quote(spec.schema)}.{quote(spec.name)}"
        if scoped is not None and "as_of_month" in columns:
            query += f" WHERE CAST(as_of_month AS DATE) = DATE '{scoped.isoformat()}'"
        skipped = (
            spec.score_column is not None
            and spec.skipped_tier is not None
            and "tier" in columns
            and _skipped(
                conn, f"{quote(spec.schema)}.{quote(spec.name)}", scoped, spec.skipped_tier
            )
        )
        row_count = int(conn.execute(sa.text(f"SELECT count(*) FROM ({query})")).scalar())
        all_null: frozenset[str] = frozenset()
        present = [c for c in spec.skippable if c in columns]
        if present and row_count:
            counts = conn.execute(
                sa.text(f"SELECT {', '.join(f'count({quote(c)})' for c in present)} FROM ({query})")
            ).fetchone()
            all_null = frozenset(c for c, n in zip(present, counts, strict=True) if n == 0)
        checks = build_relation_checks(spec, columns, scoped, skipped, all_null)

        def sampler(check: RelationCheck) -> tuple[dict[str, Any], ...]:
            if not check.sample_sql:
                return ()
            sql = check.sample_sql.replace("{batch}", f"({query}) AS batch")
            rows = conn.execute(sa.text(f"{sql} LIMIT {sample_size}")).mappings().fetchall()
            return jsonable_rows(rows)

        batch = Batch(spec.name, f"{spec.schema}_{spec.name}", checks, query=query)
        results = run_batches(engine, [batch])
        outcomes = [_relation_outcome(c, results[c.id], sampler) for c in checks]

    return table_result(display, row_count, month, outcomes)
