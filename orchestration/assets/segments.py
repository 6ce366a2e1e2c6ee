"""The segmentation stage: each customer's level-1 category and level-2 segment, the segment
profiles, and the migration between segments since the month segmented before.
"""

import datetime as dt
import time

import dagster as dg
import pandas as pd

from ml.segmentation import (
    SegmentationConfig,
    log_segmentation_run,
    segment_customers,
    segment_migration,
)
from ml.tracking import TrackingConfig
from orchestration.assets.monthly import MONTHLY_WRITER, SCORES, each_month, output_key, preview
from orchestration.owners import CUSTOMER_INSIGHT
from orchestration.resources import MlflowResource, WarehouseResource, mlflow_run_tags
from powerseg.warehouse import month_rows, previous_month_rows, write_month

# declared up front: the first month has no migration, and an empty frame carries no types
MIGRATION_DDL = (
    "create table if not exists outputs.segment_migration (as_of_month date, "
    "previous_as_of_month date, from_segment_id varchar, to_segment_id varchar, customers bigint)"
)
MIGRATION_COLUMNS = (
    "as_of_month",
    "previous_as_of_month",
    "from_segment_id",
    "to_segment_id",
    "customers",
)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            output_key("customer_segments"),
            deps=[SCORES],
            description=(
                "One row per active customer: level-1 category (versioned rules, customer_360) "
                "and level-2 segment (k-means on the five factor scores, k ≤ 7 chosen by "
                "silhouette, no cluster under 5 % of its category; small categories split by a "
                "value × risk tier grid), named from its profile."
            ),
            kinds={"scikit-learn", "mlflow", "duckdb"},
            owners=[CUSTOMER_INSIGHT],
        ),
        dg.AssetSpec(
            output_key("segment_profiles"),
            deps=[SCORES],
            description=(
                "One row per segment: size, share of its category and of all customers, mean "
                "factor scores, and each factor's index against the population on −1…+1."
            ),
            kinds={"duckdb"},
            owners=[CUSTOMER_INSIGHT],
        ),
        dg.AssetSpec(
            output_key("segment_migration"),
            deps=[SCORES],
            description=(
                "Customers per (previous month's segment, this month's segment) against the "
                "previous as-of month in outputs.customer_segments; empty for the first month."
            ),
            kinds={"duckdb"},
            owners=[CUSTOMER_INSIGHT],
        ),
    ],
    group_name="segmentation",
    **MONTHLY_WRITER,
    name="segments",
)
def segments(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, mlflow: MlflowResource
):
    yield from each_month(
        context,
        lambda month: _segments_month(month, warehouse, mlflow, mlflow_run_tags(context, month)),
    )


def _segments_month(
    month: dt.date, warehouse: WarehouseResource, mlflow: MlflowResource, run_tags: dict
):
    config = SegmentationConfig()
    started = time.perf_counter()
    with warehouse.connect(read_only=True) as con:
        scores = month_rows(con, "marts.customer_factor_scores", month)
        previous_profiles = previous_month_rows(con, "outputs.segment_profiles", month)
        previous_segments = previous_month_rows(con, "outputs.customer_segments", month)
    result = segment_customers(scores, config, previous_profiles)
    run = log_segmentation_run(
        result,
        TrackingConfig(mlflow.tracking_uri, artifact_root=mlflow.artifact_dir, run_tags=run_tags),
        config,
    )
    if previous_segments is not None:
        migration = segment_migration(previous_segments, result.customer_segments)
    else:
        migration = pd.DataFrame(columns=list(MIGRATION_COLUMNS))
    with warehouse.connect() as con:
        con.execute("create schema if not exists outputs")
        con.execute(MIGRATION_DDL)
        written = {
            "customer_segments": write_month(
                con, "customer_segments", result.customer_segments, month
            ),
            "segment_profiles": write_month(
                con, "segment_profiles", result.segment_profiles, month
            ),
            "segment_migration": write_month(con, "segment_migration", migration, month),
        }
    seconds = round(time.perf_counter() - started, 2)
    categories = result.summary["categories"]
    link = dg.MetadataValue.url(mlflow.run_url(run.experiment_id, run.run_id))
    profiles = result.segment_profiles
    yield dg.MaterializeResult(
        asset_key=output_key("customer_segments"),
        metadata={
            "dagster/row_count": written["customer_segments"],
            "as_of_month": str(month),
            "segments": len(profiles),
            "segments_per_category": dg.MetadataValue.json(
                {c: int(info["k"]) for c, info in categories.items()}
            ),
            "method_per_category": dg.MetadataValue.json(
                {c: info["method"] for c, info in categories.items()}
            ),
            "silhouette_per_category": dg.MetadataValue.json(
                {
                    c: float(info["silhouette"])
                    for c, info in categories.items()
                    if pd.notna(info.get("silhouette"))
                }
            ),
            "smallest_share_in_category": float(profiles["share"].min()),
            "factors_not_scored": ", ".join(result.summary["factors_not_scored"]) or "none",
            "mlflow_run_id": run.run_id,
            "mlflow_run": link,
            "seconds": seconds,
            "preview": preview(result.customer_segments),
        },
    )
    yield dg.MaterializeResult(
        asset_key=output_key("segment_profiles"),
        metadata={
            "dagster/row_count": written["segment_profiles"],
            "as_of_month": str(month),
            "ids_carried_from": (
                str(pd.Timestamp(previous_profiles["as_of_month"].iloc[0]).date())
                if previous_profiles is not None
                else "none (first month)"
            ),
            "profiles": dg.MetadataValue.md(
                profiles[["segment_id", "segment_name", "size", "share"]].to_markdown(index=False)
            ),
        },
    )
    stayed = migration.loc[migration["from_segment_id"] == migration["to_segment_id"], "customers"]
    yield dg.MaterializeResult(
        asset_key=output_key("segment_migration"),
        metadata={
            "dagster/row_count": written["segment_migration"],
            "as_of_month": str(month),
            "previous_as_of_month": (
                str(pd.Timestamp(migration["previous_as_of_month"].iloc[0]).date())
                if len(migration)
                else "none"
            ),
            "customers_in_both_months": int(migration["customers"].sum()),
            "stayed_share": (
                round(float(stayed.sum() / migration["customers"].sum()), 4)
                if len(migration)
                else None
            ),
        },
    )
