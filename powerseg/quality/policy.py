"""What the quality gates judge by and what they return: severities, the policy of thresholds
(from the contract and the thresholds seed), references, and the per-table result types.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from powerseg.contract import EARLIEST_EVENT_DATE, TABLES
from powerseg.landing import SOURCE_FILE_COLUMN, SOURCE_ROW_COLUMN

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
# Accounts opened long before any extract are normal; events before 2000 are not. How long
# before is the contract's (a time column's `earliest`), which dbt staging quarantines by too.
EARLIEST_DATE_BY_TABLE: Mapping[str, date] = MappingProxyType(
    {
        t.name: t.column(t.time_column).earliest
        for t in TABLES.values()
        if t.time_column and t.column(t.time_column).earliest is not None
    }
)


THRESHOLDS_SEED = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds" / "thresholds.csv"


def seed_threshold(name: str) -> float:
    """A value of the thresholds seed, the one place dbt and the gates read their thresholds."""
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
    earliest_date: date = EARLIEST_EVENT_DATE
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
    # Tables of at least this many rows are judged by a few set-based SQL passes (every check's
    # count in one aggregate) instead of one GE query per metric; the outcomes are the same.
    set_based_min_rows: int = 100_000

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
