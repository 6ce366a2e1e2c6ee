"""The powerseg code location: every asset from the landing extract to the outputs, its checks,
the monthly job and schedule, and the resources, in one Definitions object.
"""

from __future__ import annotations

import dagster as dg

from orchestration.assets.dbt import (
    dbt_factor_score_models,
    dbt_monthly_models,
    dbt_staging_models,
)
from orchestration.assets.factors import factor_assets
from orchestration.assets.kpis import kpi_assets, kpi_checks
from orchestration.assets.labels import customer_labels
from orchestration.assets.points import points
from orchestration.assets.portrait import customer_portrait
from orchestration.assets.reports import exports, segment_report
from orchestration.assets.segments import segments
from orchestration.assets.service import service_strategy
from orchestration.assets.sources import landing_extract, raw_tables
from orchestration.checks.freshness import freshness_checks, freshness_sensor
from orchestration.checks.mart_gates import mart_gate_checks, output_gate_checks
from orchestration.checks.raw_gates import raw_gate_checks
from orchestration.checks.segment_coverage import segments_cover_customers_within_limits
from orchestration.partitions import as_of_months
from orchestration.resources import build_resources
from orchestration.sensors import landing_extract_sensor
from powerseg.settings import Settings

# What service staff consume, stage by stage, then what they open and take away.
output_assets = [segments, customer_labels, points, service_strategy]
staff_assets = [customer_portrait, exports, segment_report]

ASSETS = [
    landing_extract,
    raw_tables,
    dbt_staging_models,
    dbt_monthly_models,
    *factor_assets,
    dbt_factor_score_models,
    *output_assets,
    *kpi_assets,
    *staff_assets,
]
ASSET_CHECKS = [
    *raw_gate_checks,
    *freshness_checks(ASSETS),
    *mart_gate_checks,
    *output_gate_checks,
    segments_cover_customers_within_limits,
    *kpi_checks,
]

monthly_refresh = dg.define_asset_job(
    name="monthly_refresh",
    selection=dg.AssetSelection.all(),
    partitions_def=as_of_months,
    description=(
        "Load the extract and rebuild one as-of month (or a range, as one run) and everything "
        "downstream of it: staging, features, models, segments, labels, service actions."
    ),
)

# The utility's monthly extract lands in the first days of the month; on the 3rd at 06:00 (China
# Standard Time) build the month that has just ended.
monthly_schedule = dg.build_schedule_from_partitioned_job(
    monthly_refresh,
    name="monthly_refresh_schedule",
    day_of_month=3,
    hour_of_day=6,
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Monthly refresh; stopped by default. Start it in the UI with dagster-daemon up.",
)

# Step processes fork from a server that has imported the code location once, so a step starts
# in about a second instead of importing Dagster, dbt and the models again.
STEP_PROCESSES = {
    "max_concurrent": 2,
    "start_method": {"forkserver": {"preload_modules": ["orchestration.definitions"]}},
}


def run_executor(settings: Settings) -> dg.ExecutorDefinition:
    """How a run executes its steps. With the local SQLite instance, one after another in the
    run's process. With Dagster in PostgreSQL (a deployment), each step in a process of its
    own: a failing or memory-hungry step cannot take the run worker down with it, and the
    warehouse pool (one slot, DAGSTER_HOME/dagster.yaml) still lets one step at a time write
    DuckDB."""
    if settings.dagster_pg_url:
        return dg.multiprocess_executor.configured(STEP_PROCESSES, name="step_processes")
    return dg.in_process_executor


def monthly_refresh_job() -> dg.JobDefinition:
    """The resolved job, for runs whose steps start in processes of their own (reconstructable)."""
    return defs.resolve_job_def("monthly_refresh")


defs = dg.Definitions(
    assets=ASSETS,
    asset_checks=ASSET_CHECKS,
    jobs=[monthly_refresh],
    schedules=[monthly_schedule],
    sensors=[landing_extract_sensor, freshness_sensor(ASSET_CHECKS)],
    resources=build_resources(),
    executor=run_executor(Settings.from_env()),
)
