"""The engine the dbt project builds on (POWERSEG_ENGINE) and how its raw sources get there.

DuckDB reads the warehouse's raw schema, filled by `landing.load_landing`. Spark reads raw tables
over Parquet files in the lake: `land_raw_in_lake` writes exactly the rows load_landing would load
(the manifest's files, contract columns, local times, `_source_file` / `_source_row` lineage), one
folder per table, and dbt registers them as Spark tables (dbt_project/macros/engine/raw_tables.sql).
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import duckdb

from powerseg.contract import TABLE_NAMES
from powerseg.landing import LoadedTable, check_loaded, plan_landing
from powerseg.settings import Settings, duckdb_resource_sql

# Under the lake: raw/<table>/ (read by dbt's source('raw', ...) on Spark), and Spark's schemas
# as <schema>.db/<table>/ (spark.sql.warehouse.dir is the lake, dbt_project/profiles.yml).
RAW_LAKE_FOLDER = "raw"
RAW_FILE = "part-00000.parquet"


def raw_lake_dir(lake_dir: Path) -> Path:
    return Path(lake_dir) / RAW_LAKE_FOLDER


def lake_table_dir(lake_dir: Path, schema: str, table: str) -> Path:
    """The folder of Parquet files that holds Spark's `schema.table`."""
    if schema == RAW_LAKE_FOLDER:
        return raw_lake_dir(lake_dir) / table
    return Path(lake_dir) / f"{schema}.db" / table


def spark_home(settings: Settings) -> Path:
    """The local Spark session's own files: the Derby metastore that names the lake's tables,
    derby.log and scratch space (dbt_project/profiles.yml, target `spark`)."""
    return settings.data_dir / "spark"


def land_raw_in_lake(
    raw_dir: Path | str,
    settings: Settings | None = None,
    tables: tuple[str, ...] = TABLE_NAMES,
) -> dict[str, LoadedTable]:
    """Write `<lake>/raw/<table>/` for each table from the files the manifest lists, all or
    nothing: every table is written into a fresh folder first (row counts checked against the
    manifest), and only when all are written do they replace the previous ones. The rows stream
    from the landing files to the lake file through DuckDB (no table is held in memory)."""
    settings = settings or Settings.from_env()
    spark_home(settings).mkdir(parents=True, exist_ok=True)
    raw_lake = raw_lake_dir(settings.lake_dir)
    pending = raw_lake / f".loading-{uuid.uuid4().hex[:12]}"
    con = duckdb.connect()
    try:
        for statement in duckdb_resource_sql(settings):
            con.execute(statement)
        plans = plan_landing(raw_dir, con, tables, settings)
        loaded = {}
        for table, plan in plans.items():
            target = pending / table
            target.mkdir(parents=True)
            path = str(target / RAW_FILE).replace("'", "''")
            rows = con.execute(
                f"COPY ({plan.select_sql}) TO '{path}' (FORMAT parquet, COMPRESSION zstd)"
            ).fetchone()[0]
            loaded[table] = check_loaded(plan, rows, settings.source_timezone)
        for table in plans:
            final = raw_lake / table
            if final.exists():
                shutil.rmtree(final)
            (pending / table).rename(final)
        return loaded
    finally:
        con.close()
        shutil.rmtree(pending, ignore_errors=True)
