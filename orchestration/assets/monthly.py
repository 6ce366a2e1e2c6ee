"""What every monthly output stage shares: the keys of its inputs, its partitioning, one result
per asset for a range of months, previews, and the seeds and display texts it reads.
"""

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from ml.display import DisplayText
from orchestration.assets.sources import WAREHOUSE_POOL
from orchestration.partitions import as_of_months, context_months, months_in_range, single_run
from orchestration.resources import WarehouseResource
from powerseg.settings import Settings
from powerseg.warehouse import table_exists

SCORES = dg.AssetKey(["marts", "customer_factor_scores"])
CUSTOMER_360 = dg.AssetKey(["marts", "customer_360"])
LABEL_REGISTRY = dg.AssetKey(["staging", "label_registry"])
DISPLAY_TEXT = dg.AssetKey(["staging", "display_text"])

# Every output belongs to an as-of month, writes the warehouse, and builds a range in one run.
MONTHLY_WRITER = {
    "pool": WAREHOUSE_POOL,
    "partitions_def": as_of_months,
    "backfill_policy": single_run,
}


def output_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(["outputs", table])


def newest_scored_month(con: duckdb.DuckDBPyConnection) -> dt.date:
    value = con.execute("select max(as_of_month) from marts.customer_factor_scores").fetchone()[0]
    if value is None:
        raise dg.Failure(
            description="marts.customer_factor_scores is empty: run the factor models first"
        )
    return pd.Timestamp(value).date()


def read_seed(con: duckdb.DuckDBPyConnection, name: str) -> pd.DataFrame:
    """A rules seed as dbt loaded it, as text (the ml loaders validate and type it)."""
    table = f"staging.{name}"
    if not table_exists(con, table):
        raise dg.Failure(
            description=f"the dbt seed {table} is missing: run `dbt seed` (dbt_models)"
        )
    return con.execute(f"select * from {table}").df().fillna("").astype(str)


def display_text(con: duckdb.DuckDBPyConnection) -> DisplayText:
    """The display texts dbt loaded, in the locale of POWERSEG_LOCALE."""
    return DisplayText.from_frame(read_seed(con, "display_text"), Settings.from_env().locale)


def output_dirs(warehouse: WarehouseResource) -> tuple[Path, Path]:
    """(exports, reports) folders: those of the settings when they describe this run's warehouse
    (the CLI and `make dev`), else beside the warehouse file (a run configured in code, as in
    tests; also the default layout)."""
    warehouse_path = Path(warehouse.path).resolve()
    settings = Settings.from_env()
    if warehouse_path == settings.warehouse_path:
        return settings.exports_dir, settings.reports_dir
    return warehouse_path.parent / "exports", warehouse_path.parent / "reports"


def each_month(context: dg.AssetExecutionContext, build_month) -> Iterator[dg.MaterializeResult]:
    """Run `build_month(month)` for every as-of month of the run, oldest first (a month reads the
    month before it: segment ids, migration, balances), and report each asset once: the newest
    month's metadata plus the rows written per month when the run covers a range."""
    per_month = {month: list(build_month(month)) for month in context_months(context)}
    newest = list(per_month)[-1]
    if len(per_month) == 1:
        yield from per_month[newest]
        return
    for position, result in enumerate(per_month[newest]):
        metadata = dict(result.metadata or {})
        metadata["rows_per_month"] = dg.MetadataValue.json(
            {str(month): _row_count(results[position]) for month, results in per_month.items()}
        )
        yield dg.MaterializeResult(asset_key=result.asset_key, metadata=metadata)


def _row_count(result: dg.MaterializeResult):
    value = (result.metadata or {}).get("dagster/row_count")
    return getattr(value, "value", value)


def run_months(context: dg.AssetCheckExecutionContext, con: duckdb.DuckDBPyConnection):
    """The as-of months the check's run materialised (its partition tags), else the newest."""
    tags = context.op_execution_context.run.tags
    if "dagster/partition" in tags:
        return [dt.date.fromisoformat(tags["dagster/partition"])]
    start = tags.get("dagster/asset_partition_range_start")
    if start:
        return months_in_range(start, tags["dagster/asset_partition_range_end"])
    return [newest_scored_month(con)]


def preview(frame: pd.DataFrame, rows: int = 10) -> dg.MetadataValue:
    shown = frame.head(rows).drop(columns=["as_of_month"], errors="ignore")
    return dg.MetadataValue.md(shown.to_markdown(index=False))
