"""Every dbt model, seed and test as Dagster assets and checks, grouped by the dbt layer folder.

The monthly models are partitioned by as-of month: the run's month (or range of months) reaches
dbt as the `as_of_month` and `history_months` settings (environment variables
POWERSEG_AS_OF_MONTH / POWERSEG_HISTORY_MONTHS, see int_as_of_months), and the marts replace just
those months.
"""

import datetime as dt
import os
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._utils.env import environ
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from orchestration.assets.sources import WAREHOUSE_POOL
from orchestration.owners import DATA_ENGINEERING
from orchestration.partitions import as_of_months, context_months, month_vars, single_run
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
# Three steps: what does not depend on the as-of month (seeds, staging, quarantine), the monthly
# windows and marts (partitioned by as-of month), and the models over the factor-model outputs,
# which build after those Python assets.
STAGING_MODELS = "path:seeds path:models/staging path:models/quarantine"
MONTHLY_MODELS = "path:models/intermediate path:models/marts"
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
        return [DATA_ENGINEERING]


def _require_month_in_extract(warehouse: WarehouseResource, newest: dt.date) -> None:
    with warehouse.connect(read_only=True) as con:
        last = con.execute(
            "select last_complete_month from staging.stg_raw__extract_window"
        ).fetchone()[0]
    if last is None or newest > last:
        raise dg.Failure(
            description=(
                f"as-of month {newest:%Y-%m} is after the last complete month of the extract "
                f"({'none' if last is None else f'{last:%Y-%m}'}): a month is built once the "
                "extract covers every day of it"
            )
        )


# The run's months go to dbt in the environment, not as --vars: dbt re-parses the whole project
# whenever the --vars change (about 10 s an invocation), but only the files that read an
# environment variable when its value changes (here int_as_of_months).
MONTH_ENV = {"as_of_month": "POWERSEG_AS_OF_MONTH", "history_months": "POWERSEG_HISTORY_MONTHS"}


def dbt_environment(warehouse_path: str, variables: Mapping[str, object]) -> dict[str, str | None]:
    """The variables one dbt invocation runs with: the warehouse its profile opens and the run's
    months; a month variable the step does not set is unset (None), so a step without months
    never reads one left in the process environment."""
    months = {name: None for name in MONTH_ENV.values()}
    months |= {MONTH_ENV[name]: str(value) for name, value in variables.items()}
    return {"POWERSEG_WAREHOUSE": warehouse_path, **months}


def _dbt_build(context, dbt: DbtCliResource, warehouse: WarehouseResource, variables: dict):
    # A test runs in the step that builds the last of its models: 'buildable' leaves out tests
    # that reference a model built by a later step (e.g. intermediate -> staging relationships).
    args = ["build", "--indirect-selection", "buildable"]
    target = (
        Path(dbt_project.project_dir)
        / dbt_project.target_path
        / f"{context.op_execution_context.op.name}-{context.run_id[:7]}-{uuid.uuid4().hex[:7]}"
    )
    state = parse_state_path(warehouse.path)
    if state.exists():
        target.mkdir(parents=True)
        shutil.copyfile(state, target / PARSE_STATE)
    # DbtCliResource.cli takes no environment of its own: it starts dbt with a copy of
    # os.environ made inside the call. So this invocation's variables hold for that call only
    # and are restored after it, leaving the process environment as it was.
    with environ(dbt_environment(warehouse.path, variables)):
        invocation = dbt.cli(args, context=context, target_path=target)
    yield from invocation.stream()
    _keep_parse_state(target, state)


PARSE_STATE = "partial_parse.msgpack"


def parse_state_path(warehouse_path: str) -> Path:
    """Where the dbt parse state of the warehouse at `warehouse_path` is kept between steps."""
    return Path(f"{warehouse_path}.dbt-{PARSE_STATE}")


def _keep_parse_state(invocation_target: Path, state: Path) -> None:
    """Keep this invocation's parse state beside its warehouse, for the next step on it.

    dbt re-parses the whole project (about 6 s) when the profile differs from the one the state
    was made with, and the profile holds the warehouse path: one state per warehouse lets every
    step after a warehouse's first parse only what changed, whatever other warehouses are built
    meanwhile (dagster-dbt would seed each invocation from the project's own state, which
    `powerseg prepare` and `dagster dev` leave for the default warehouse). Replaced atomically.
    """
    source = invocation_target / PARSE_STATE
    if not source.exists():
        return
    staged = state.with_name(f".{state.name}.{os.getpid()}")
    shutil.copyfile(source, staged)
    os.replace(staged, state)


def build_dbt_step(
    name: str,
    select: str,
    description: str | None = None,
    *,
    monthly: bool = False,
    needs_complete_month: bool = False,
) -> dg.AssetsDefinition:
    """One dbt build step as a multi-asset: the models of `select`, partitioned by as-of month
    when `monthly` (a range in one dbt build), refused for a month the extract does not cover
    yet when `needs_complete_month`."""

    def build(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
        variables = {}
        if monthly:
            months = context_months(context)
            if needs_complete_month:
                _require_month_in_extract(warehouse, months[-1])
            variables = month_vars(months)
        yield from _dbt_build(context, dbt, warehouse, variables)

    build.__doc__ = description
    partitioning = {"partitions_def": as_of_months, "backfill_policy": single_run}
    return dbt_assets(
        manifest=dbt_project.manifest_path,
        project=dbt_project,
        dagster_dbt_translator=PowersegDbtTranslator(),
        select=select,
        name=name,
        pool=WAREHOUSE_POOL,
        **(partitioning if monthly else {}),
    )(build)


dbt_staging_models = build_dbt_step(
    "dbt_staging_models",
    STAGING_MODELS,
    "Seeds, staging and quarantine: the whole extract, whatever month is being built.",
)
dbt_monthly_models = build_dbt_step(
    "dbt_monthly_models",
    MONTHLY_MODELS,
    "Intermediate windows and the marts of the run's as-of months (a range in one dbt build).",
    monthly=True,
    needs_complete_month=True,
)
dbt_factor_score_models = build_dbt_step(
    "dbt_factor_score_models", AFTER_FACTOR_MODELS, monthly=True
)
