"""The checks a source-contract table generates for its raw gate: type compatibility, columns,
keys, allowed values, ranges, the extract window, freshness and references, as GE expectations.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import great_expectations as gx

from powerseg.contract import Table
from powerseg.landing import RAW_SCHEMA
from powerseg.quality.policy import (
    CUSTOMER_KEY,
    ERROR,
    LINEAGE_COLUMNS,
    WARNING,
    ExpectationOutcome,
    QualityPolicy,
    Reference,
    Severity,
)
from powerseg.quality.runner import quote

# --- DuckDB types the contract's dtypes accept -----------------------------------------------

_INTEGER_TYPES = {
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
}


def type_family(duckdb_type: str) -> str:
    t = duckdb_type.upper()
    if t in _INTEGER_TYPES:
        return "integer"
    if t in ("FLOAT", "DOUBLE", "REAL") or t.startswith("DECIMAL"):
        return "float"
    if t.startswith("TIMESTAMP"):
        return "timestamp"
    if t == "DATE":
        return "date"
    if t.startswith("VARCHAR") or t.startswith("ENUM"):
        return "varchar"
    if t == "BOOLEAN":
        return "boolean"
    return "other"


def type_compatibility(contract_dtype: str, actual: str) -> Severity | None:
    """None when `actual` holds the contract type; a warning when values still compare
    (an integer column delivered as DOUBLE, a DATE as TIMESTAMP); an error otherwise."""
    want, got = type_family(contract_dtype), type_family(actual)
    if want == got or (want == "float" and got == "integer"):
        return None
    if {want, got} in ({"integer", "float"}, {"date", "timestamp"}):
        return WARNING
    return ERROR


# --- the checks a contract generates ---------------------------------------------------------


@dataclass
class Check:
    """One expectation of a raw table's suite, with how its failure is judged and sampled."""

    id: str
    name: str
    column: str | None
    expectation: Any  # a gx Expectation, evaluated on the table or the reference query asset
    row_level: bool  # row-level failures are judged against the tolerance
    severity: Severity = ERROR  # for table-level failures
    on_reference_asset: bool = False
    # evaluated on the table's distinct rows (lineage aside), where exact copies are one row
    on_distinct_asset: bool = False
    tolerance: float | None = None  # row-level share below which a failure warns (else policy's)
    sample_where: str | None = None  # SQL predicate selecting offending rows
    sample_params: dict[str, Any] = field(default_factory=dict)
    duplicate_keys: tuple[str, ...] = ()  # uniqueness: sample duplicated key values instead
    reference: Reference | None = None
    note: str = ""


def _fmt(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


def _bounds_name(lo: Any, hi: Any) -> str:
    parts = []
    if lo is not None:
        parts.append(f"min={_fmt(lo)}")
    if hi is not None:
        parts.append(f"max={_fmt(hi)}")
    return ", ".join(parts)


def param_name(check_id: str, name: str) -> str:
    """A bind parameter's name unique to its check, so one query can hold every check's
    predicate."""
    return re.sub(r"\W", "_", f"{check_id}_{name}")


def _between(
    cid: str,
    column: str,
    lo: Any,
    hi: Any,
    *,
    strict_max: bool = False,
    shown: tuple[Any, Any] | None = None,
) -> Check:
    conds, params = [], {}
    if lo is not None:
        conds.append(f"{quote(column)} < :{param_name(cid, 'lo')}")
        params[param_name(cid, "lo")] = lo
    if hi is not None:
        conds.append(f"{quote(column)} {'>=' if strict_max else '>'} :{param_name(cid, 'hi')}")
        params[param_name(cid, "hi")] = hi
    return Check(
        id=cid,
        name=f"expect_column_values_to_be_between({column}, {_bounds_name(*(shown or (lo, hi)))})",
        column=column,
        expectation=gx.expectations.ExpectColumnValuesToBeBetween(
            column=column, min_value=lo, max_value=hi, strict_max=strict_max
        ),
        row_level=True,
        sample_where=" OR ".join(conds),
        sample_params=params,
    )


def build_checks(
    table: Table,
    columns: Mapping[str, str],
    row_count: int,
    *,
    extract_end: date | None,
    policy: QualityPolicy,
    references: Sequence[Reference] = (),
) -> tuple[list[Check], list[ExpectationOutcome]]:
    """The checks to run on a table with these `columns` (name -> DuckDB type), and the outcomes
    already known from the catalog (type mismatches), which GE has no SQL expectation for."""
    checks: list[Check] = []
    known: list[ExpectationOutcome] = []
    evaluable: set[str] = set()  # columns present with a type the value expectations can compare

    empty_severity = ERROR if table.name in policy.nonempty_tables else WARNING
    checks.append(
        Check(
            id="row_count",
            name="expect_table_row_count_to_be_between(min=1)",
            column=None,
            expectation=gx.expectations.ExpectTableRowCountToBeBetween(min_value=1),
            row_level=False,
            severity=empty_severity,
            note="a core table must have rows"
            if empty_severity == ERROR
            else "present but empty: nothing to report this period, or a partial extract",
        )
    )
    for col in table.columns:
        checks.append(
            Check(
                id=f"exists:{col.name}",
                name=f"expect_column_to_exist({col.name})",
                column=col.name,
                expectation=gx.expectations.ExpectColumnToExist(column=col.name),
                row_level=False,
                severity=ERROR if col.required else WARNING,
            )
        )
        if col.name not in columns:
            continue
        mismatch = type_compatibility(col.dtype, columns[col.name])
        known.append(
            ExpectationOutcome(
                name=f"expect_column_type_to_be_compatible({col.name}, {col.dtype})",
                expectation_type="expect_column_type_to_be_compatible",
                column=col.name,
                success=mismatch is None,
                severity=mismatch,
                observed={"observed_value": columns[col.name]},
                note="" if mismatch is None else f"contract type is {col.dtype}",
            )
        )
        if mismatch != ERROR:
            evaluable.add(col.name)

    key = [k for k in table.key if k in columns]
    for col in table.columns:
        if col.name in columns and (col.name in table.key or not col.nullable):
            checks.append(
                Check(
                    id=f"not_null:{col.name}",
                    name=f"expect_column_values_to_not_be_null({col.name})",
                    column=col.name,
                    expectation=gx.expectations.ExpectColumnValuesToNotBeNull(column=col.name),
                    row_level=True,
                    sample_where=f"{quote(col.name)} IS NULL",
                )
            )
    if len(key) == len(table.key):
        if len(key) == 1:
            name = f"expect_column_values_to_be_unique({key[0]})"
            expectation = gx.expectations.ExpectColumnValuesToBeUnique(column=key[0])
        else:
            name = f"expect_compound_columns_to_be_unique({', '.join(key)})"
            expectation = gx.expectations.ExpectCompoundColumnsToBeUnique(column_list=key)
        checks.append(
            Check(
                id="unique_key",
                name=name,
                column=key[0] if len(key) == 1 else None,
                expectation=expectation,
                row_level=True,
                duplicate_keys=tuple(key),
                on_distinct_asset=True,
                tolerance=policy.conflicting_duplicate_max_share,
                note="conflicting duplicates: rows of one key with different values, all "
                "quarantined (exact copies of a row are one row here)",
            )
        )

    for col in table.columns:
        if col.name not in evaluable:
            continue
        if col.allowed:
            checks.append(
                Check(
                    id=f"in_set:{col.name}",
                    name=f"expect_column_values_to_be_in_set({col.name}, "
                    f"[{', '.join(col.allowed)}])",
                    column=col.name,
                    expectation=gx.expectations.ExpectColumnValuesToBeInSet(
                        column=col.name, value_set=list(col.allowed)
                    ),
                    row_level=True,
                    sample_where=f"{quote(col.name)} IS NOT NULL "
                    f"AND {quote(col.name)} NOT IN :{param_name(f'in_set:{col.name}', 'allowed')}",
                    sample_params={param_name(f"in_set:{col.name}", "allowed"): list(col.allowed)},
                )
            )
        if col.minimum is not None or col.maximum is not None:
            checks.append(_between(f"between:{col.name}", col.name, col.minimum, col.maximum))

    tc = table.time_column
    if tc and tc in evaluable:
        timestamp = type_family(columns[tc]) == "timestamp"
        lo: date | datetime = policy.earliest_for(table.name)
        hi: date | datetime | None = extract_end
        if timestamp:
            lo = datetime.combine(lo, time())
            # Any time on the extract's last day is inside the window.
            hi = datetime.combine(extract_end + timedelta(days=1), time()) if extract_end else None
        shown = (policy.earliest_for(table.name), extract_end)
        checks.append(_between(f"window:{tc}", tc, lo, hi, strict_max=timestamp, shown=shown))
        days = policy.freshness_for(table.name)
        if days is not None and extract_end is not None and row_count > 0:
            oldest_ok: date | datetime = extract_end - timedelta(days=days)
            if timestamp:
                oldest_ok = datetime.combine(oldest_ok, time())
            checks.append(
                Check(
                    id=f"fresh:{tc}",
                    name=f"expect_column_max_to_be_between({tc}, min={_fmt(oldest_ok)})",
                    column=tc,
                    expectation=gx.expectations.ExpectColumnMaxToBeBetween(
                        column=tc, min_value=oldest_ok
                    ),
                    row_level=False,
                    severity=policy.freshness_severity,
                    note=f"newest record at most {days} days before the extract end "
                    f"{extract_end.isoformat()}",
                )
            )

    for ref in references:
        if ref.column not in evaluable:
            continue
        checks.append(
            Check(
                id=f"ref:{ref.column}",
                name=f"expect_column_values_to_be_in_set({ref.column}, {ref.target})",
                column=ref.column,
                expectation=gx.expectations.ExpectColumnValuesToBeInSet(
                    column=_ref_flag(ref), value_set=[True]
                ),
                row_level=True,
                on_reference_asset=True,
                sample_where=f"t.{quote(ref.column)} IS NOT NULL AND NOT EXISTS ("
                f"SELECT 1 FROM {quote(ref.schema)}.{quote(ref.table)} AS ref "
                f"WHERE ref.{quote(ref.to_column)} = t.{quote(ref.column)})",
                reference=ref,
                note="orphans: values missing from the referenced table",
            )
        )
    return checks, known


def _ref_flag(ref: Reference) -> str:
    return f"{ref.column}_in_{ref.table}"


def content_columns(table: Table, columns: Mapping[str, str]) -> list[str]:
    """The delivered columns of a raw table, lineage aside: what makes two rows the same row."""
    return [c for c in columns if c not in LINEAGE_COLUMNS]


def distinct_query(qualified: str, table: Table, columns: Mapping[str, str]) -> str:
    listed = ", ".join(quote(c) for c in content_columns(table, columns))
    return f"SELECT DISTINCT {listed} FROM {qualified}"


def reference_query(qualified: str, refs: Sequence[Reference]) -> str:
    """One row per validated row with a flag per reference: true when the value exists in the
    referenced table, null when the value is null (a null is the not-null check's business)."""
    flags = ", ".join(
        f"CASE WHEN t.{quote(r.column)} IS NULL THEN NULL ELSE EXISTS ("
        f"SELECT 1 FROM {quote(r.schema)}.{quote(r.table)} AS ref "
        f"WHERE ref.{quote(r.to_column)} = t.{quote(r.column)}) END AS {quote(_ref_flag(r))}"
        for r in refs
    )
    return f"SELECT {flags} FROM {qualified} AS t"


def default_references(table: Table, schema: str = RAW_SCHEMA) -> tuple[Reference, ...]:
    if table.references_customers and CUSTOMER_KEY in table.column_names:
        return (Reference(CUSTOMER_KEY, schema, "customers", CUSTOMER_KEY),)
    return ()
