"""Data-quality gates: Great Expectations suites generated from a table contract and run inside
the DuckDB warehouse through SQL, with a severity per failure and the offending keys to show.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import great_expectations as gx
import sqlalchemy as sa

from powerseg.contract import TABLE_NAMES, TABLES, Table
from powerseg.landing import RAW_SCHEMA, SOURCE_FILE_COLUMN, SOURCE_ROW_COLUMN
from powerseg.quality_ge import ephemeral_context, warehouse_engine

# Row-level failures affecting at most QualityPolicy.row_tolerance of the rows are warnings,
# because staging quarantines those rows; more, or any schema failure, is an error. Nothing is
# loaded into pandas: GE issues aggregate SQL, and the offending-key samples are LIMITed queries.
Severity = Literal["error", "warning"]
ERROR: Severity = "error"
WARNING: Severity = "warning"

LINEAGE_COLUMNS = (SOURCE_FILE_COLUMN, SOURCE_ROW_COLUMN)
CUSTOMER_KEY = "customer_id"

# Tables without which nothing can be scored: empty means a broken extract, not a quiet month.
# Every other table may be empty (a source system without meters, topology, 95598 or surveys):
# the factors that need it are skipped and say so.
CORE_TABLES = frozenset({"customers", "bills"})

# Days the newest record of each table's time column may lag the extract end. Monthly or sparse
# processes (bills dated on the 1st, inspections, surveys) lag more than the daily streams;
# customers.open_date dates an account, not the extract, so it has no freshness expectation.
FRESHNESS_DAYS_BY_TABLE: Mapping[str, int | None] = MappingProxyType(
    {
        "customers": None,
        "bills": 62,
        "outages": 62,
        "inspections": 92,
        "satisfaction_surveys": 184,
    }
)
# Accounts opened long before any extract are normal; events before 2000 are not.
EARLIEST_DATE_BY_TABLE: Mapping[str, date] = MappingProxyType({"customers": date(1950, 1, 1)})


THRESHOLDS_SEED = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds" / "thresholds.csv"


def seed_threshold(name: str) -> float:
    """A value of the thresholds seed, the one place dbt and the gates read their thresholds."""
    import csv

    with THRESHOLDS_SEED.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["threshold_name"] == name:
                return float(row["value"])
    raise KeyError(f"{THRESHOLDS_SEED} has no threshold {name!r}")


@dataclass(frozen=True)
class QualityPolicy:
    """Thresholds of the gates; every field can be overridden per run."""

    # Share of rows that may fail a row-level expectation (allowed values, ranges, nulls in keys,
    # duplicates, orphans, dates outside the window) and still be only a warning.
    row_tolerance: float = 0.005
    earliest_date: date = date(2000, 1, 1)
    earliest_date_by_table: Mapping[str, date] = field(
        default_factory=lambda: dict(EARLIEST_DATE_BY_TABLE)
    )
    freshness_days: int = 31
    freshness_days_by_table: Mapping[str, int | None] = field(
        default_factory=lambda: dict(FRESHNESS_DAYS_BY_TABLE)
    )
    freshness_severity: Severity = ERROR
    nonempty_tables: frozenset[str] = CORE_TABLES
    # Share of a table's rows in keys whose rows conflict above which its gate blocks the run
    # (the thresholds seed's conflicting_duplicate_max_share; staging quarantines them anyway).
    conflicting_duplicate_max_share: float = field(
        default_factory=lambda: seed_threshold("conflicting_duplicate_max_share")
    )
    # Share of a text-delivered typed column's values that may fail to cast before its gate
    # blocks the run (the thresholds seed's uncastable_value_max_share).
    uncastable_value_max_share: float = field(
        default_factory=lambda: seed_threshold("uncastable_value_max_share")
    )
    sample_size: int = 10

    def earliest_for(self, table: str) -> date:
        return self.earliest_date_by_table.get(table, self.earliest_date)

    def freshness_for(self, table: str) -> int | None:
        return self.freshness_days_by_table.get(table, self.freshness_days)


@dataclass(frozen=True)
class Reference:
    """A foreign key: `column` of the validated table must exist in `schema.table.to_column`."""

    column: str
    schema: str
    table: str
    to_column: str

    @property
    def target(self) -> str:
        return f"{self.schema}.{self.table}.{self.to_column}"


@dataclass(frozen=True)
class ExpectationOutcome:
    """One evaluated expectation. `observed` holds GE's numbers (unexpected_count,
    unexpected_percent of all rows, element_count) or the observed value of a table-level one."""

    name: str
    expectation_type: str
    column: str | None
    success: bool
    severity: Severity | None  # None when it passed
    observed: dict[str, Any]
    sample: tuple[dict[str, Any], ...] = ()
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["sample"] = list(self.sample)
        return out


@dataclass(frozen=True)
class TableResult:
    table: str  # schema.table
    passed: bool
    severity: Severity | None  # the worst failure; None when every expectation passed
    row_count: int | None
    extract_end: date | None
    expectations: tuple[ExpectationOutcome, ...]

    @property
    def failures(self) -> tuple[ExpectationOutcome, ...]:
        return tuple(e for e in self.expectations if not e.success)

    def failure(self, name_prefix: str) -> ExpectationOutcome:
        """The failed expectation whose name starts with `name_prefix` (tests and messages)."""
        found = [f for f in self.failures if f.name.startswith(name_prefix)]
        if len(found) != 1:
            raise KeyError(
                f"{len(found)} failures start with {name_prefix!r} in {self.table}: "
                f"{[f.name for f in self.failures]}"
            )
        return found[0]

    @property
    def summary(self) -> str:
        if self.passed:
            return f"{self.table}: all {len(self.expectations)} expectations passed"
        errors = sum(f.severity == ERROR for f in self.failures)
        warns = len(self.failures) - errors
        return (
            f"{self.table}: {len(self.failures)} of {len(self.expectations)} expectations failed "
            f"({errors} error{'s' * (errors != 1)}, {warns} warning{'s' * (warns != 1)})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "passed": self.passed,
            "severity": self.severity,
            "row_count": self.row_count,
            "extract_end": self.extract_end.isoformat() if self.extract_end else None,
            "summary": self.summary,
            "failures": [f.to_dict() for f in self.failures],
        }


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
class _Check:
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


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


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


def _between(
    cid: str,
    column: str,
    lo: Any,
    hi: Any,
    *,
    strict_max: bool = False,
    shown: tuple[Any, Any] | None = None,
) -> _Check:
    conds, params = [], {}
    if lo is not None:
        conds.append(f"{_q(column)} < :lo")
        params["lo"] = lo
    if hi is not None:
        conds.append(f"{_q(column)} {'>=' if strict_max else '>'} :hi")
        params["hi"] = hi
    return _Check(
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
) -> tuple[list[_Check], list[ExpectationOutcome]]:
    """The checks to run on a table with these `columns` (name -> DuckDB type), and the outcomes
    already known from the catalog (type mismatches), which GE has no SQL expectation for."""
    checks: list[_Check] = []
    known: list[ExpectationOutcome] = []
    evaluable: set[str] = set()  # columns present with a type the value expectations can compare

    empty_severity = ERROR if table.name in policy.nonempty_tables else WARNING
    checks.append(
        _Check(
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
            _Check(
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
                _Check(
                    id=f"not_null:{col.name}",
                    name=f"expect_column_values_to_not_be_null({col.name})",
                    column=col.name,
                    expectation=gx.expectations.ExpectColumnValuesToNotBeNull(column=col.name),
                    row_level=True,
                    sample_where=f"{_q(col.name)} IS NULL",
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
            _Check(
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
                _Check(
                    id=f"in_set:{col.name}",
                    name=f"expect_column_values_to_be_in_set({col.name}, "
                    f"[{', '.join(col.allowed)}])",
                    column=col.name,
                    expectation=gx.expectations.ExpectColumnValuesToBeInSet(
                        column=col.name, value_set=list(col.allowed)
                    ),
                    row_level=True,
                    sample_where=f"{_q(col.name)} IS NOT NULL AND {_q(col.name)} NOT IN :allowed",
                    sample_params={"allowed": list(col.allowed)},
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
                _Check(
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
            _Check(
                id=f"ref:{ref.column}",
                name=f"expect_column_values_to_be_in_set({ref.column}, {ref.target})",
                column=ref.column,
                expectation=gx.expectations.ExpectColumnValuesToBeInSet(
                    column=_ref_flag(ref), value_set=[True]
                ),
                row_level=True,
                on_reference_asset=True,
                sample_where=f"t.{_q(ref.column)} IS NOT NULL AND NOT EXISTS ("
                f"SELECT 1 FROM {_q(ref.schema)}.{_q(ref.table)} AS ref "
                f"WHERE ref.{_q(ref.to_column)} = t.{_q(ref.column)})",
                reference=ref,
                note="orphans: values missing from the referenced table",
            )
        )
    return checks, known


def _ref_flag(ref: Reference) -> str:
    return f"{ref.column}_in_{ref.table}"


def _content_columns(table: Table, columns: Mapping[str, str]) -> list[str]:
    """The delivered columns of a raw table, lineage aside: what makes two rows the same row."""
    return [c for c in columns if c not in LINEAGE_COLUMNS]


def _distinct_query(qualified: str, table: Table, columns: Mapping[str, str]) -> str:
    listed = ", ".join(_q(c) for c in _content_columns(table, columns))
    return f"SELECT DISTINCT {listed} FROM {qualified}"


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
    value = f"nullif(trim(CAST({_q(column)} AS VARCHAR)), '')"
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
                    f"SELECT {', '.join(_q(c) for c in shown)} FROM {qualified} WHERE {bad} "
                    f"ORDER BY {_q(SOURCE_ROW_COLUMN)} LIMIT {limit}"
                )
            )
            .mappings()
            .fetchall()
        )
        sample = tuple({k: _jsonable(v) for k, v in row.items()} for row in rows)
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
    conn: sa.Connection, qualified: str, table: Table, columns: Mapping[str, str], limit: int
) -> ExpectationOutcome:
    """Rows that repeat another row in every delivered column: staging keeps one and drops the
    copies (counted in quarantine.row_accounting), so they only ever warn."""
    listed = ", ".join(_q(c) for c in _content_columns(table, columns))
    total, distinct = conn.execute(
        sa.text(
            f"SELECT count(*), (SELECT count(*) FROM "
            f"({_distinct_query(qualified, table, columns)}) AS d) FROM {qualified}"
        )
    ).fetchone()
    copies = int(total) - int(distinct)
    sample: tuple[dict[str, Any], ...] = ()
    if copies:
        key = [k for k in table.key if k in columns] or list(_content_columns(table, columns))[:1]
        keys = ", ".join(_q(k) for k in key)
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
        sample = tuple({k: _jsonable(v) for k, v in row.items()} for row in rows)
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


def _reference_query(qualified: str, refs: Sequence[Reference]) -> str:
    """One row per validated row with a flag per reference: true when the value exists in the
    referenced table, null when the value is null (a null is the not-null check's business)."""
    flags = ", ".join(
        f"CASE WHEN t.{_q(r.column)} IS NULL THEN NULL ELSE EXISTS ("
        f"SELECT 1 FROM {_q(r.schema)}.{_q(r.table)} AS ref "
        f"WHERE ref.{_q(r.to_column)} = t.{_q(r.column)}) END AS {_q(_ref_flag(r))}"
        for r in refs
    )
    return f"SELECT {flags} FROM {qualified} AS t"


# --- running them ----------------------------------------------------------------------------


def _catalog(conn: sa.Connection, schema: str, name: str) -> dict[str, str]:
    rows = conn.execute(
        sa.text(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = :s AND table_name = :t ORDER BY ordinal_position"
        ),
        {"s": schema, "t": name},
    ).fetchall()
    return {r[0]: r[1] for r in rows}


def _table_exists(conn: sa.Connection, schema: str, name: str) -> bool:
    return bool(
        conn.execute(
            sa.text(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_schema = :s AND table_name = :t"
            ),
            {"s": schema, "t": name},
        ).scalar()
    )


# A day belongs to the extract when it has at least this share of the busiest day's reads (the
# same rule as dbt's stg_raw__extract_window), so a stray future-dated read cannot move the end.
EXTRACT_DAY_COVERAGE_SHARE = 0.5


def extract_end_from_meter_reads(conn: sa.Connection, schema: str = RAW_SCHEMA) -> date | None:
    """The last day well covered by meter reads: the extract end when no manifest says otherwise."""
    if "read_date" not in _catalog(conn, schema, "meter_reads_daily"):
        return None
    value = conn.execute(
        sa.text(
            f"WITH per_day AS (SELECT CAST(read_date AS DATE) AS day, count(*) AS reads "
            f"FROM {_q(schema)}.meter_reads_daily WHERE read_date IS NOT NULL GROUP BY 1) "
            f"SELECT max(day) FROM per_day "
            f"WHERE reads >= :share * (SELECT max(reads) FROM per_day)"
        ),
        {"share": EXTRACT_DAY_COVERAGE_SHARE},
    ).scalar()
    if isinstance(value, datetime):
        return value.date()
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _sample(
    conn: sa.Connection,
    qualified: str,
    check: _Check,
    columns: Mapping[str, str],
    table: Table,
    limit: int,
) -> tuple[dict[str, Any], ...]:
    key = [k for k in table.key if k in columns]
    if check.duplicate_keys:
        keys = ", ".join(_q(k) for k in check.duplicate_keys)
        not_all_null = " OR ".join(f"{_q(k)} IS NOT NULL" for k in check.duplicate_keys)
        others = [c for c in _content_columns(table, columns) if c not in check.duplicate_keys]
        differing = ", ".join(
            f"CASE WHEN count(DISTINCT {_q(c)}) > 1 OR count({_q(c)}) NOT IN (0, count(*)) "
            f"THEN '{c}' END"
            for c in others
        )
        differs = f", concat_ws(',', {differing}) AS differing_columns" if others else ""
        sql = (
            f"SELECT {keys}, count(*) AS duplicate_rows{differs} "
            f"FROM ({_distinct_query(qualified, table, columns)}) AS t "
            f"WHERE {not_all_null} GROUP BY {keys} HAVING count(*) > 1 "
            f"ORDER BY duplicate_rows DESC, {keys} LIMIT {limit}"
        )
        params: dict[str, Any] = {}
    elif check.sample_where:
        shown = list(dict.fromkeys([*key, *([check.column] if check.column else [])]))
        shown += [c for c in LINEAGE_COLUMNS if c in columns]
        order = ", ".join(_q(c) for c in (key or shown))
        sql = (
            f"SELECT {', '.join(_q(c) for c in shown)} FROM {qualified} AS t "
            f"WHERE {check.sample_where} ORDER BY {order} NULLS FIRST LIMIT {limit}"
        )
        params = check.sample_params
    else:
        return ()
    stmt = sa.text(sql)
    if "allowed" in params:
        stmt = stmt.bindparams(sa.bindparam("allowed", expanding=True))
    rows = conn.execute(stmt, params).mappings().fetchall()
    return tuple({k: _jsonable(v) for k, v in row.items()} for row in rows)


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


def _outcome(
    check: _Check,
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
        total = int(raw.get("element_count") or 0)
        unexpected = int(raw.get("unexpected_count") or 0)
        fraction = unexpected / total if total else 0.0
        observed = {
            "unexpected_count": unexpected,
            "unexpected_percent": round(100.0 * fraction, 4),
            "element_count": total,
        }
        success = bool(result.success) and unexpected == 0
        tolerance = policy.row_tolerance if check.tolerance is None else check.tolerance
        severity = None if success else (WARNING if fraction <= tolerance else ERROR)
    else:
        observed = {"observed_value": _jsonable(raw.get("observed_value"))}
        if "observed_value" not in raw:
            observed = {k: _jsonable(v) for k, v in raw.items()}
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


def _run_suite(asset, checks: list[_Check], suite_name: str) -> dict[str, Any]:
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


def default_references(table: Table, schema: str = RAW_SCHEMA) -> tuple[Reference, ...]:
    if table.references_customers and CUSTOMER_KEY in table.column_names:
        return (Reference(CUSTOMER_KEY, schema, "customers", CUSTOMER_KEY),)
    return ()


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
    qualified = f"{_q(schema)}.{_q(name)}"
    display = f"{schema}.{name}"
    refs = tuple(default_references(table, schema) if references is None else references)

    with warehouse_engine(warehouse, lock_timeout_seconds) as (engine, conn):
        if extract_end is None:
            extract_end = extract_end_from_meter_reads(conn, schema)
        if not _table_exists(conn, schema, name):
            missing = ExpectationOutcome(
                f"expect_table_to_exist({display})",
                "expect_table_to_exist",
                None,
                False,
                ERROR,
                {"observed_value": "missing"},
            )
            return TableResult(display, False, ERROR, None, extract_end, (missing,))
        columns = _catalog(conn, schema, name)
        row_count = int(conn.execute(sa.text(f"SELECT count(*) FROM {qualified}")).scalar())

        outcomes: list[ExpectationOutcome] = []
        live_refs = []
        for ref in refs:
            target_cols = _catalog(conn, ref.schema, ref.table)
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

        def sampler(check: _Check) -> tuple[dict[str, Any], ...]:
            return _sample(conn, qualified, check, columns, table, policy.sample_size)

        context = ephemeral_context()
        datasource = context.data_sources.add_sql(
            name="warehouse", connection_string=engine.url.render_as_string(hide_password=False)
        )
        try:
            # schema_name is deprecated in favour of a schema in the connection, which a DuckDB
            # URL cannot carry; it is the only way to reach a non-default schema.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                table_asset = datasource.add_table_asset(
                    name=name, table_name=name, schema_name=schema
                )
            plain = [c for c in checks if not c.on_reference_asset and not c.on_distinct_asset]
            results = _run_suite(table_asset, plain, name)
            distinct_checks = [c for c in checks if c.on_distinct_asset]
            if distinct_checks:
                distinct_asset = datasource.add_query_asset(
                    name=f"{name}_distinct", query=_distinct_query(qualified, table, columns)
                )
                results |= _run_suite(distinct_asset, distinct_checks, f"{name}_distinct")
            ref_checks = [c for c in checks if c.on_reference_asset]
            if ref_checks:
                ref_asset = datasource.add_query_asset(
                    name=f"{name}_references",
                    query=_reference_query(qualified, [c.reference for c in ref_checks]),
                )
                results |= _run_suite(ref_asset, ref_checks, f"{name}_references")
        finally:
            datasource.get_execution_engine().close()

        for check in checks:
            outcomes.append(_outcome(check, results[check.id], policy=policy, sampler=sampler))
        if table.key and row_count:
            outcomes.append(
                exact_duplicates_outcome(conn, qualified, table, columns, policy.sample_size)
            )
        outcomes.extend(known)

    failures = [o for o in outcomes if not o.success]
    severity: Severity | None = None
    if failures:
        severity = ERROR if any(o.severity == ERROR for o in failures) else WARNING
    return TableResult(
        display, not failures, severity, row_count, extract_end, tuple(_ordered(outcomes))
    )


def _ordered(outcomes: Iterable[ExpectationOutcome]) -> list[ExpectationOutcome]:
    # Failures first, errors before warnings, so a truncated view still shows the worst.
    rank = {ERROR: 0, WARNING: 1, None: 2}
    return sorted(outcomes, key=lambda o: rank[o.severity])


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


# --- presenting a result ---------------------------------------------------------------------


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _observed_text(observed: Mapping[str, Any]) -> str:
    if "unexpected_count" in observed:
        return (
            f"{observed['unexpected_count']:,} of {observed['element_count']:,} rows "
            f"({observed['unexpected_percent']:g} %)"
        )
    if list(observed) == ["observed_value"]:
        return str(observed["observed_value"])
    return ", ".join(f"{k}={v}" for k, v in observed.items())


def _sample_text(sample: Sequence[Mapping[str, Any]]) -> str:
    return "<br>".join(", ".join(f"{k}={v}" for k, v in row.items()) for row in sample)


def failures_markdown(result: TableResult) -> str:
    """The failed expectations as a Markdown table, for the Dagster UI."""
    if result.passed:
        return f"All {len(result.expectations)} expectations passed."
    lines = [
        "| expectation | severity | observed | offending rows (sample) | note |",
        "|---|---|---|---|---|",
    ]
    for f in result.failures:
        lines.append(
            f"| `{_cell(f.name)}` | {f.severity} | {_cell(_observed_text(f.observed))} "
            f"| {_cell(_sample_text(f.sample))} | {_cell(f.note)} |"
        )
    return "\n".join(lines)


def failure_lines(table: str, failures: Sequence[Mapping[str, Any]], samples: int = 3) -> list[str]:
    """One line per failed expectation (as `ExpectationOutcome.to_dict()` gives it, e.g. from a
    check's metadata), for the command line: table.column, the expectation, what was observed,
    up to `samples` offending keys, and the note."""
    lines = []
    for f in failures:
        where = f"{table}.{f['column']}" if f.get("column") else table
        observed = _observed_text(f.get("observed") or {})
        keys = "; ".join(
            ", ".join(f"{k}={v}" for k, v in row.items())
            for row in (f.get("sample") or [])[:samples]
        )
        parts = [f"{where}: {f['name']} [{f.get('severity')}]"]
        if observed:
            parts.append(f"observed {observed}")
        if keys:
            parts.append(f"e.g. {keys}")
        if f.get("note"):
            parts.append(str(f["note"]))
        lines.append(" — ".join(parts))
    return lines
