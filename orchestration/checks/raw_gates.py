"""One blocking quality gate per raw table: the table's contract suite (powerseg.quality) run
read-only in the warehouse, with every failed expectation, its count and offending keys shown.
"""

# No `from __future__ import annotations`: Dagster 1.13 compares the context and config
# annotations as objects, and postponed annotations are strings.
from datetime import date
from pathlib import Path

import dagster as dg

from orchestration.assets.sources import OWNER, WAREHOUSE_POOL, raw_asset_key
from orchestration.resources import LandingResource, WarehouseResource
from powerseg.contract import TABLES
from powerseg.landing import ExtractStatus, LandingError, read_manifest
from powerseg.quality import (
    ERROR,
    QualityPolicy,
    TableResult,
    failures_markdown,
    validate_table,
)

GATE_NAME = "quality_gate"


class RawGateConfig(dg.Config):
    """Thresholds a run may override from the launchpad; defaults are QualityPolicy's."""

    row_tolerance: float = QualityPolicy.row_tolerance
    # For tables without their own lag in powerseg.quality.FRESHNESS_DAYS_BY_TABLE.
    freshness_days: int = QualityPolicy.freshness_days
    extract_end: str | None = None  # 'YYYY-MM-DD'; default: the manifest's, else the last read


def manifest_extract_end(raw_dir: str | Path) -> date | None:
    """The extract end the landing manifest declares, or None without a readable manifest."""
    try:
        manifest = read_manifest(Path(raw_dir))
    except LandingError:
        return None
    return ExtractStatus(Path(raw_dir), manifest).extract_end


def check_result(result: TableResult, date_label: str = "extract_end") -> dg.AssetCheckResult:
    """A TableResult as Dagster shows it: WARN never blocks, ERROR blocks downstream assets.
    `date_label` names the result's date (the extract's end, or a mart's newest as-of month)."""
    severity = (
        dg.AssetCheckSeverity.ERROR if result.severity == ERROR else dg.AssetCheckSeverity.WARN
    )
    return dg.AssetCheckResult(
        passed=result.passed,
        severity=severity,
        description=result.summary,
        metadata={
            "summary": result.summary,
            "failed_expectations": dg.MetadataValue.md(failures_markdown(result)),
            "failures": dg.MetadataValue.json([f.to_dict() for f in result.failures]),
            "evaluated_expectations": len(result.expectations),
            "row_count": result.row_count if result.row_count is not None else -1,
            date_label: result.extract_end.isoformat() if result.extract_end else "unknown",
        },
    )


def build_raw_gate(table: str) -> dg.AssetChecksDefinition:
    contract = TABLES[table]

    @dg.asset_check(
        asset=raw_asset_key(table),
        name=GATE_NAME,
        blocking=True,
        description=(
            f"Great Expectations suite from the source contract for raw.{table}: columns, keys, "
            "allowed values, ranges, extract window, references and freshness. Errors block "
            "everything downstream; row-level failures within the tolerance are warnings "
            "(staging quarantines those rows)."
        ),
        # No dependency on the referenced customer master: it is loaded in the same step, and a
        # failed customers gate must not keep the other tables' gates from running (every
        # problem of a delivery is reported at once; the gates block staging, not each other).
        # Readers and the one writer take turns on the DuckDB file.
        pool=WAREHOUSE_POOL,
        metadata={"owner": OWNER},
    )
    def _gate(
        context: dg.AssetCheckExecutionContext,
        config: RawGateConfig,
        warehouse: WarehouseResource,
        landing: LandingResource,
    ) -> dg.AssetCheckResult:
        extract_end = (
            date.fromisoformat(config.extract_end)
            if config.extract_end
            else manifest_extract_end(landing.raw_dir)
        )
        policy = QualityPolicy(
            row_tolerance=config.row_tolerance, freshness_days=config.freshness_days
        )
        result = validate_table(
            warehouse.path,
            contract,
            extract_end=extract_end,
            policy=policy,
            lock_timeout_seconds=warehouse.lock_timeout_seconds,
        )
        context.log.info(result.summary)
        return check_result(result)

    return _gate


raw_gate_checks: list[dg.AssetChecksDefinition] = [build_raw_gate(t) for t in TABLES]
