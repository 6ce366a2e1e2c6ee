"""Every dbt model, seed and test as Dagster assets and checks, grouped by the dbt layer folder.

The as-of month is a run config value passed to dbt as a var; unset, dbt picks the last complete
month of the extract.
"""

import json
import os
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from orchestration.assets.sources import OWNER, WAREHOUSE_POOL
from orchestration.resources import WarehouseResource, dbt_project, ensure_dbt_manifest

ensure_dbt_manifest()

# dbt folder -> lineage group; quarantine models belong with the staging they split from.
LAYER_GROUPS = {
    "staging": "staging",
    "quarantine": "staging",
    "intermediate": "intermediate",
    "marts": "marts",
    "scores": "factor_models",
}
# Models over the factor-model outputs build after those Python assets, in their own step.
AFTER_FACTOR_MODELS = "tag:factor_scores"


class PowersegDbtTranslator(DagsterDbtTranslator):
    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        resource_type = dbt_resource_props["resource_type"]
        if resource_type == "seed":
            return "rules"
        if resource_type == "source":
            return "sources"
        fqn = dbt_resource_props.get("fqn", [])
        folder = fqn[1] if len(fqn) > 2 else ""
        return LAYER_GROUPS.get(folder, "marts")

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str]:
        return [OWNER]


class DbtBuildConfig(dg.Config):
    as_of_month: str | None = None  # 'YYYY-MM'; None = the last complete month of the extract
    history_months: int | None = None


def dbt_vars(config: DbtBuildConfig) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if config.as_of_month:
        out["as_of_month"] = config.as_of_month
    if config.history_months:
        out["history_months"] = config.history_months
    return out


def _dbt_build(context, dbt: DbtCliResource, warehouse: WarehouseResource, variables: dict):
    # dbt reads the warehouse location from the profile's env var; keep it on the resource's path.
    os.environ["POWERSEG_WAREHOUSE"] = warehouse.path
    args = ["build"]
    if variables:
        args += ["--vars", json.dumps(variables)]
    yield from dbt.cli(args, context=context).stream()


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=PowersegDbtTranslator(),
    exclude=AFTER_FACTOR_MODELS,
    pool=WAREHOUSE_POOL,
)
def dbt_models(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: WarehouseResource,
    config: DbtBuildConfig,
):
    yield from _dbt_build(context, dbt, warehouse, dbt_vars(config))


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=PowersegDbtTranslator(),
    select=AFTER_FACTOR_MODELS,
    name="dbt_factor_score_models",
    pool=WAREHOUSE_POOL,
)
def dbt_factor_score_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
):
    yield from _dbt_build(context, dbt, warehouse, {})
