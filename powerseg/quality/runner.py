"""The one Great Expectations runner of the quality gates: suites evaluated on tables or queries of
the DuckDB warehouse, and the SQL and result helpers every gate assembles its outcomes from.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import great_expectations as gx
import sqlalchemy as sa

from powerseg.quality.policy import ERROR, WARNING, ExpectationOutcome, Severity, TableResult
from powerseg.quality_ge import ephemeral_context


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def catalog(conn: sa.Connection, schema: str, name: str) -> dict[str, str]:
    rows = conn.execute(
        sa.text(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = :s AND table_name = :t ORDER BY ordinal_position"
        ),
        {"s": schema, "t": name},
    ).fetchall()
    return {r[0]: r[1] for r in rows}


def table_exists(conn: sa.Connection, schema: str, name: str) -> bool:
    return bool(
        conn.execute(
            sa.text(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_schema = :s AND table_name = :t"
            ),
            {"s": schema, "t": name},
        ).scalar()
    )


def jsonable(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def jsonable_rows(rows: Iterable[Mapping[str, Any]]) -> tuple[dict[str, Any], ...]:
    """Offending rows as a sample shown in metadata (dates as ISO text, decimals as floats)."""
    return tuple({k: jsonable(v) for k, v in row.items()} for row in rows)


def unexpected_counts(raw: Mapping[str, Any]) -> tuple[dict[str, Any], float]:
    """GE's row-level counts as an outcome's `observed`, and the failing share of the rows."""
    total = int(raw.get("element_count") or 0)
    unexpected = int(raw.get("unexpected_count") or 0)
    share = unexpected / total if total else 0.0
    observed = {
        "unexpected_count": unexpected,
        "unexpected_percent": round(100.0 * share, 4),
        "element_count": total,
    }
    return observed, share


def evaluation_error(check, result: Any) -> ExpectationOutcome | None:
    """An error outcome when Great Expectations raised instead of evaluating, else None."""
    error = _exception_message(result)
    if error is None:
        return None
    return ExpectationOutcome(
        check.name,
        result.expectation_config.type,
        check.column,
        False,
        ERROR,
        {"error": error.splitlines()[0][:500]},
        note="Great Expectations could not evaluate this expectation",
    )


def _exception_message(result: Any) -> str | None:
    info = result.exception_info or {}
    if info.get("raised_exception"):
        return str(info.get("exception_message"))
    for value in info.values():
        if isinstance(value, dict) and value.get("raised_exception", True):
            message = value.get("exception_message")
            if message:
                return str(message)
    return None


@dataclass(frozen=True)
class Batch:
    """The rows one suite is validated on: a table of the warehouse, or a query over it. Each
    check carries an `id` (its result's key) and a GE `expectation`."""

    asset_name: str
    suite_name: str
    checks: Sequence[Any]
    table: str | None = None
    schema: str | None = None
    query: str | None = None


def run_batches(engine: sa.Engine, batches: Sequence[Batch]) -> dict[str, Any]:
    """Every batch's suite on one ephemeral GE data source: each check's result by its id."""
    context = ephemeral_context()
    datasource = context.data_sources.add_sql(
        name="warehouse", connection_string=engine.url.render_as_string(hide_password=False)
    )
    results: dict[str, Any] = {}
    try:
        for batch in batches:
            # schema_name is deprecated in favour of a schema in the connection, which a DuckDB
            # URL cannot carry; it is the only way to reach a non-default schema.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                if batch.query is None:
                    asset = datasource.add_table_asset(
                        name=batch.asset_name, table_name=batch.table, schema_name=batch.schema
                    )
                else:
                    asset = datasource.add_query_asset(name=batch.asset_name, query=batch.query)
            results |= _run_suite(asset, batch.checks, batch.suite_name)
    finally:
        datasource.get_execution_engine().close()
    return results


def _run_suite(asset, checks: Sequence[Any], suite_name: str) -> dict[str, Any]:
    suite = gx.ExpectationSuite(name=suite_name)
    for check in checks:
        check.expectation.meta = {"powerseg_check": check.id}
        suite.add_expectation(check.expectation)
    batch = asset.add_batch_definition_whole_table(f"{suite_name}_all").get_batch()
    # BASIC: counts and percentages; the offending keys come from our own LIMITed query.
    validation = batch.validate(
        suite, result_format={"result_format": "BASIC", "partial_unexpected_count": 0}
    )
    return {r.expectation_config.meta["powerseg_check"]: r for r in validation.results}


def missing_table_result(display: str, as_of: date | None) -> TableResult:
    missing = ExpectationOutcome(
        f"expect_table_to_exist({display})",
        "expect_table_to_exist",
        None,
        False,
        ERROR,
        {"observed_value": "missing"},
    )
    return TableResult(display, False, ERROR, None, as_of, (missing,))


def table_result(
    display: str, row_count: int, as_of: date | None, outcomes: Iterable[ExpectationOutcome]
) -> TableResult:
    """The gate's verdict: the worst failure's severity, and failures first, errors before
    warnings, so a truncated view still shows the worst."""
    rank = {ERROR: 0, WARNING: 1, None: 2}
    ordered = sorted(outcomes, key=lambda o: rank[o.severity])
    failures = [o for o in ordered if not o.success]
    severity: Severity | None = None
    if failures:
        severity = ERROR if any(o.severity == ERROR for o in failures) else WARNING
    return TableResult(display, not failures, severity, row_count, as_of, tuple(ordered))
