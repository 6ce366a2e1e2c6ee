"""Blocking quality gates on the feature marts and the outputs (powerseg.quality.marts): one row
per customer and as-of month, every active customer scored once, no unexpected nulls, in range.
"""

# No `from __future__ import annotations`: Dagster compares the context annotations as objects.
import dagster as dg

from ml.registry import FACTORS
from orchestration.assets.sources import OWNER, WAREHOUSE_POOL
from orchestration.checks.raw_gates import GATE_NAME, check_result
from orchestration.resources import WarehouseResource
from powerseg.quality import (
    MART_SPECS,
    RelationSpec,
    TableResult,
    factor_scores_spec,
    failures_markdown,
    score_spec,
    validate_relation,
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
    *(build_relation_gate(score_spec(f), OUTPUT_GATE_DESCRIPTION) for f in FACTORS),
    build_relation_gate(factor_scores_spec(tuple(FACTORS)), OUTPUT_GATE_DESCRIPTION),
]
