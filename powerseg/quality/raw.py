"""The raw gate: a source-contract table's checks run read-only in the DuckDB warehouse (a GE suite,
or set-based passes for a large table), the outcomes GE has no expectation for, offending rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from powerseg.contract import TABLE_NAMES, TABLES, Table
from powerseg.landing import RAW_SCHEMA, SOURCE_ROW_COLUMN
from powerseg.quality.policy import (
    ERROR,
    LINEAGE_COLUMNS,
    WARNING,
    ExpectationOutcome,
    QualityPolicy,
    Reference,
    TableResult,
    seed_threshold,
)
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
from powerseg.quality.setbased import bind, set_based_counts
from powerseg.quality.specs import (
    Check,
    build_checks,
    content_columns,
    default_references,
    distinct_query,
    reference_query,
    type_family,
)
from powerseg.quality_ge import warehouse_engine


def text_cast_outcome(
    conn: sa.Connection,
    qualified: str,
    table: Table,
    column: str,
    contract_dtype: str,
    actual: str,
    *,
    tolerance: float,
    limit: int,
) -> ExpectationOutcome:
    """A column the contract types as a number, date or timestamp delivered as text: staging
    casts it row by row and quarantines the values that do not cast (`unparseable:<column>`),
    so the gate warns, and blocks only when more than `tolerance` of the filled values, or all
    of them, do not cast."""
    value = f"nullif(trim(CAST({quote(column)} AS VARCHAR)), '')"
    bad = f"{value} IS NOT NULL AND TRY_CAST({value} AS {contract_dtype}) IS NULL"
    filled, uncastable = conn.execute(
        sa.text(f"SELECT count({value}), count(*) FILTER (WHERE {bad}) FROM {qualified}")
    ).fetchone()
    filled, uncastable = int(filled), int(uncastable)
    share = uncastable / filled if filled else 0.0
    blocked = (filled and uncastable == filled) or share > tolerance
    sample: tuple[dict[str, Any], ...] = ()
    if uncastable:
        shown = [*[k for k in table.key if k != column], column, *LINEAGE_COLUMNS]
        rows = (
            conn.execute(
                sa.text(
                    f"SELECT {', '.join(quote(c) for c in shown)} FROM {qualified} WHERE {bad} "
                    f"ORDER BY {quote(SOURCE_ROW_COLUMN)} LIMIT {limit}"
                )
            )
            .mappings()
            .fetchall()
        )
        sample = jsonable_rows(rows)
    return ExpectationOutcome(
        f"expect_column_type_to_be_compatible({column}, {contract_dtype})",
        "expect_column_type_to_be_compatible",
        column,
        False,
        ERROR if blocked else WARNING,
        {
            "observed_value": actual,
            "uncastable_count": uncastable,
            "uncastable_percent": round(100.0 * share, 4),
            "filled_count": filled,
        },
        sample,
        f"delivered as {actual}, contract type is {contract_dtype}: "
        + (
            "no value casts"
            if filled and uncastable == filled
            else f"{uncastable:,} value(s) do not cast and are quarantined as unparseable:{column}"
        ),
    )


def exact_duplicates_outcome(
    conn: sa.Connection,
    qualified: str,
    table: Table,
    columns: Mapping[str, str],
    limit: int,
    counts: tuple[int, int] | None = None,
) -> ExpectationOutcome:
    """Rows that repeat another row in every delivered column: staging keeps one and drops the
    copies (counted in quarantine.row_accounting), so they only ever warn. `counts` (rows,
    distinct rows) saves the count when the set-based pass has it."""
    listed = ", ".join(quote(c) for c in content_columns(table, columns))
    if counts is None:
        counts = conn.execute(
            sa.text(
                f"SELECT count(*), (SELECT count(*) FROM "
                f"({distinct_query(qualified, table, columns)}) AS d) FROM {qualified}"
            )
        ).fetchone()
    total, distinct = counts
    copies = int(total) - int(distinct)
    sample: tuple[dict[str, Any], ...] = ()
    if copies:
        key = [k for k in table.key if k in columns] or list(content_columns(table, columns))[:1]
        keys = ", ".join(quote(k) for k in key)
        rows = (
            conn.execute(
                sa.text(
                    f"SELECT {keys}, count(*) AS copies FROM {qualified} GROUP BY {listed} "
                    f"HAVING count(*) > 1 ORDER BY copies DESC, {keys} LIMIT {limit}"
                )
            )
            .mappings()
            .fetchall()
        )
        sample = jsonable_rows(rows)
    return ExpectationOutcome(
        "expect_no_exact_duplicate_rows",
        "powerseg_exact_duplicates",
        None,
        copies == 0,
        None if copies == 0 else WARNING,
        {
            "unexpected_count": copies,
            "unexpected_percent": round(100.0 * copies / total, 4) if total else 0.0,
            "element_count": int(total),
        },
        sample,
        ""
        if copies == 0
        else "exact copies of a row: one is staged, the copies are dropped "
        "and counted (reason exact_duplicate)",
    )


def extract_end_from_meter_reads(conn: sa.Connection, schema: str = RAW_SCHEMA) -> date | None:
    """The last day well covered by meter reads: the extract end when no manifest says otherwise."""
    if "read_date" not in catalog(conn, schema, "meter_reads_daily"):
        return None
    value = conn.execute(
        sa.text(
            f"WITH per_day AS (SELECT CAST(read_date AS DATE) AS day, count(*) AS reads "
            f"FROM {quote(schema)}.meter_reads_daily WHERE read_date IS NOT NULL GROUP BY 1) "
            f"SELECT max(day) FROM per_day "
            f"WHERE reads >= :share * (SELECT max(reads) FROM per_day)"
        ),
        # A day belongs to the extract when it has at least this share of the busiest day's reads
        # (the seed dbt's stg_raw__extract_window reads), so a stray future-dated read cannot
        # move the end.
        {"share": seed_threshold("extract_day_coverage_share")},
    ).scalar()
    if isinstance(value, datetime):
        return value.date()
    return value


def _sample(
    conn: sa.Connection,
    qualified: str,
    check: Check,
    columns: Mapping[str, str],
    table: Table,
    limit: int,
) -> tuple[dict[str, Any], ...]:
    key = [k for k in table.key if k in columns]
    if check.duplicate_keys:
        keys = ", ".join(quote(k) for k in check.duplicate_keys)
        not_all_null = " OR ".join(f"{quote(k)} IS NOT NULL" for k in check.duplicate_keys)
        others = [c for c in content_columns(table, columns) if c not in check.duplicate_keys]
        differing = ", ".join(
            f"CASE WHEN count(DISTINCT {quote(c)}) > 1 OR count({quote(c)}) NOT IN (0, count(*)) "
            f"THEN '{c}' END"
            for c in others
        )
        differs = f", concat_ws(',', {differing}) AS differing_columns" if others else ""
        sql = (
            f"SELECT {keys}, count(*) AS duplicate_rows{differs} "
            f"FROM ({distinct_query(qualified, table, columns)}) AS t "
            f"WHERE {not_all_null} GROUP BY {keys} HAVING count(*) > 1 "
            f"ORDER BY duplicate_rows DESC, {keys} LIMIT {limit}"
        )
        params: dict[str, Any] = {}
    elif check.sample_where:
        shown = list(dict.fromkeys([*key, *([check.column] if check.column else [])]))
        shown += [c for c in LINEAGE_COLUMNS if c in columns]
        order = ", ".join(quote(c) for c in (key or shown))
        sql = (
            f"SELECT {', '.join(quote(c) for c in shown)} FROM {qualified} AS t "
            f"WHERE {check.sample_where} ORDER BY {order} NULLS FIRST LIMIT {limit}"
        )
        params = check.sample_params
    else:
        return ()
    rows = conn.execute(bind(sql, params), params).mappings().fetchall()
    return jsonable_rows(rows)


def _outcome(
    check: Check,
    result: Any,
    *,
    policy: QualityPolicy,
    sampler,
) -> ExpectationOutcome:
    expectation_type = result.expectation_config.type
    raw = dict(result.result or {})
    unevaluated = evaluation_error(check, result)
    if unevaluated is not None:
        return unevaluated
    if check.row_level:
        observed, fraction = unexpected_counts(raw)
        success = bool(result.success) and observed["unexpected_count"] == 0
        tolerance = policy.row_tolerance if check.tolerance is None else check.tolerance
        severity = None if success else (WARNING if fraction <= tolerance else ERROR)
    else:
        observed = {"observed_value": jsonable(raw.get("observed_value"))}
        if "observed_value" not in raw:
            observed = {k: jsonable(v) for k, v in raw.items()}
        success = bool(result.success)
        severity = None if success else check.severity
    sample = () if success else sampler(check)
    return ExpectationOutcome(
        check.name,
        expectation_type,
        check.column,
        success,
        severity,
        observed,
        sample,
        "" if success else check.note,
    )


def validate_table(
    warehouse: str | Path,
    table: Table,
    *,
    schema: str = RAW_SCHEMA,
    name: str | None = None,
    extract_end: date | None = None,
    policy: QualityPolicy | None = None,
    references: Sequence[Reference] | None = None,
    lock_timeout_seconds: float = 0.0,
) -> TableResult:
    """Validate `schema.name` (default: the contract table's name) in the DuckDB file against
    `table`'s contract, read-only, and return every expectation's outcome.

    `extract_end` defaults to the last meter-read day in `schema`; `references` default to
    customer_id -> `schema`.customers for tables the contract marks as referencing customers.
    """
    policy = policy or QualityPolicy()
    name = name or table.name
    qualified = f"{quote(schema)}.{quote(name)}"
    display = f"{schema}.{name}"
    refs = tuple(default_references(table, schema) if references is None else references)

    with warehouse_engine(warehouse, lock_timeout_seconds) as (engine, conn):
        if extract_end is None:
            extract_end = extract_end_from_meter_reads(conn, schema)
        if not table_exists(conn, schema, name):
            return missing_table_result(display, extract_end)
        columns = catalog(conn, schema, name)
        row_count = int(conn.execute(sa.text(f"SELECT count(*) FROM {qualified}")).scalar())

        outcomes: list[ExpectationOutcome] = []
        live_refs = []
        for ref in refs:
            target_cols = catalog(conn, ref.schema, ref.table)
            if ref.to_column in target_cols:
                live_refs.append(ref)
            else:
                outcomes.append(
                    ExpectationOutcome(
                        f"expect_column_values_to_be_in_set({ref.column}, {ref.target})",
                        "expect_column_values_to_be_in_set",
                        ref.column,
                        False,
                        ERROR,
                        {"observed_value": f"{ref.target} does not exist"},
                        note="the referenced table or column is missing",
                    )
                )
        checks, known = build_checks(
            table,
            columns,
            row_count,
            extract_end=extract_end,
            policy=policy,
            references=live_refs,
        )
        # text where the contract wants a number, date or timestamp: judged on the values
        known = [
            text_cast_outcome(
                conn,
                qualified,
                table,
                o.column,
                table.column(o.column).dtype,
                columns[o.column],
                tolerance=policy.uncastable_value_max_share,
                limit=policy.sample_size,
            )
            if o.expectation_type == "expect_column_type_to_be_compatible"
            and not o.success
            and type_family(columns[o.column]) == "varchar"
            and type_family(table.column(o.column).dtype)
            in ("integer", "float", "date", "timestamp")
            else o
            for o in known
        ]

        def sampler(check: Check) -> tuple[dict[str, Any], ...]:
            return _sample(conn, qualified, check, columns, table, policy.sample_size)

        counts = None
        if row_count >= policy.set_based_min_rows:
            counts = set_based_counts(
                conn, qualified, table, columns, checks, with_distinct=bool(table.key)
            )
        if counts is None:
            results = _run_ge(engine, name, schema, qualified, table, columns, checks)
        else:
            results = counts.results

        for check in checks:
            outcomes.append(_outcome(check, results[check.id], policy=policy, sampler=sampler))
        if table.key and row_count:
            outcomes.append(
                exact_duplicates_outcome(
                    conn,
                    qualified,
                    table,
                    columns,
                    policy.sample_size,
                    (row_count, counts.distinct_rows) if counts else None,
                )
            )
        outcomes.extend(known)

    return table_result(display, row_count, extract_end, outcomes)


def _run_ge(
    engine: sa.Engine,
    name: str,
    schema: str,
    qualified: str,
    table: Table,
    columns: Mapping[str, str],
    checks: Sequence[Check],
) -> dict[str, Any]:
    """Every check's GE result: the table's suite, its distinct rows' and its references'."""
    ref_checks = [c for c in checks if c.on_reference_asset]
    batches = [
        Batch(
            name,
            name,
            [c for c in checks if not c.on_reference_asset and not c.on_distinct_asset],
            table=name,
            schema=schema,
        ),
        Batch(
            f"{name}_distinct",
            f"{name}_distinct",
            [c for c in checks if c.on_distinct_asset],
            query=distinct_query(qualified, table, columns),
        ),
        Batch(
            f"{name}_references",
            f"{name}_references",
            ref_checks,
            query=reference_query(qualified, [c.reference for c in ref_checks]),
        ),
    ]
    # Every table has a row-count check; the distinct and reference suites only when needed.
    return run_batches(engine, [b for b in batches if b.checks])


def validate_raw(
    warehouse: str | Path,
    tables: Iterable[str] = TABLE_NAMES,
    *,
    extract_end: date | None = None,
    policy: QualityPolicy | None = None,
) -> dict[str, TableResult]:
    """Every raw contract table, against one extract end (the meter reads' last day if none)."""
    if extract_end is None:
        with warehouse_engine(warehouse) as (_engine, conn):
            extract_end = extract_end_from_meter_reads(conn)
    return {
        t: validate_table(warehouse, TABLES[t], extract_end=extract_end, policy=policy)
        for t in tables
    }
