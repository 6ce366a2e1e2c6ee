"""Data-quality gates: checks generated from the source contract (raw tables: GE suites, set-based
SQL for large ones) and relation specs (marts, outputs), run in DuckDB with a severity per failure.
"""

from powerseg.quality.marts import MART_SPECS, RelationSpec
from powerseg.quality.policy import (
    CORE_TABLES,
    EARLIEST_DATE_BY_TABLE,
    ERROR,
    FRESHNESS_DAYS_BY_TABLE,
    WARNING,
    ExpectationOutcome,
    QualityPolicy,
    Reference,
    Severity,
    TableResult,
    seed_threshold,
)
from powerseg.quality.raw import extract_end_from_meter_reads, validate_raw, validate_table
from powerseg.quality.relations import validate_relation
from powerseg.quality.render import failure_lines, failures_markdown
from powerseg.quality.specs import type_compatibility

__all__ = [
    "CORE_TABLES",
    "EARLIEST_DATE_BY_TABLE",
    "ERROR",
    "FRESHNESS_DAYS_BY_TABLE",
    "MART_SPECS",
    "WARNING",
    "ExpectationOutcome",
    "QualityPolicy",
    "Reference",
    "RelationSpec",
    "Severity",
    "TableResult",
    "extract_end_from_meter_reads",
    "failure_lines",
    "failures_markdown",
    "seed_threshold",
    "type_compatibility",
    "validate_raw",
    "validate_relation",
    "validate_table",
]
