"""Blocking quality gates on the feature marts and the outputs (powerseg.quality.marts): one row
per customer and as-of month, every active customer scored once, no unexpected nulls, in range.
"""

# No `from __future__ import annotations`: Dagster compares the context annotations as objects.
import dagster as dg

from ml.registry import NOT_SCORED_TIER, REGISTRY, Registry
from orchestration.assets.sources import OWNER, WAREHOUSE_POOL
from orchestration.checks.raw_gates import GATE_NAME, check_result
from orchestration.resources import WarehouseResource
from powerseg.quality import (
    MART_SPECS,
    RelationSpec,
    TableResult,
    failures_markdown,
    validate_relation,
)


def score_spec(factor: str, registry: Registry = REGISTRY) -> RelationSpec:
    """scores.<factor>_scores for the scored month: every active customer once, its columns in
    the ranges its registry entry declares, nulls only where it allows them."""
    entry = registry[factor]
    return RelationSpec(
        "scores",
        entry.score_table,
        ranges={c.name: c.range for c in entry.score_columns if c.range is not None},
        # a skipped factor leaves every column but the key, tier and model fields null
        nullable={c.name: 1.0 for c in entry.score_columns if c.nullable},
        newest_month_only=True,
        score_column="score",
        skipped_tier=NOT_SCORED_TIER,
    )


def factor_scores_spec(
    factors: tuple[str, ...] | None = None, registry: Registry = REGISTRY
) -> RelationSpec:
    """marts.customer_factor_scores for the scored month: every published score 0-100."""
    entries = [registry[f] for f in (factors or registry.names)]
    return RelationSpec(
        "marts",
        "customer_factor_scores",
        ranges={e.score_column: e.score_range for e in entries},
        skippable=tuple(e.score_column for e in entries),
        nullable={p.name: 1.0 for e in entries for p in e.published if p.nullable},
        newest_month_only=True,
    )


def relation_check_result(result: TableResult) -> dg.AssetCheckResult:
    return check_result(result, date_label="newest_as_of_month")


def build_relation_gate(spec: RelationSpec, description: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey([spec.schema, spec.name]),
        name=GATE_NAME,
        blocking=True,
        description=description,
        pool=WAREHOUSE_POOL,
        metadata={"owner": OWNER},
    )
    def _gate(
        context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> dg.AssetCheckResult:
        result = validate_relation(
            warehouse.path, spec, lock_timeout_seconds=warehouse.lock_timeout_seconds
        )
        if result.passed:
            context.log.info(result.summary)
        else:
            context.log.warning("%s\n%s", result.summary, failures_markdown(result))
        return relation_check_result(result)

    return _gate


MART_GATE_DESCRIPTION = (
    "Great Expectations suite on the feature mart: one row per customer and as-of month, every "
    "active customer present and no other, no nulls in feature columns (documented exceptions "
    "within a null-share limit), values in range. Any error blocks the factor models."
)
OUTPUT_GATE_DESCRIPTION = (
    "Great Expectations suite on the scored as-of month (the newest in marts.customer_360): "
    "every active customer scored exactly once, scores within 0-100, no missing scores. A factor "
    "skipped because its source table was empty is a warning; anything else blocks downstream."
)

mart_gate_checks: list[dg.AssetChecksDefinition] = [
    build_relation_gate(spec, MART_GATE_DESCRIPTION) for spec in MART_SPECS.values()
]
output_gate_checks: list[dg.AssetChecksDefinition] = [
    *(build_relation_gate(score_spec(f.name), OUTPUT_GATE_DESCRIPTION) for f in REGISTRY),
    build_relation_gate(factor_scores_spec(), OUTPUT_GATE_DESCRIPTION),
]
