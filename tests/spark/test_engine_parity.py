"""The same dbt project on DuckDB and on a local Spark session (POWERSEG_ENGINE=spark): one as-of
month of a 1,500-customer x 12-month extract built on both, every staging-derived mart equal row
by row, Spark's tables written as Parquet folders under the lake and nothing outside the data
folder.

Skipped only where Java or pyspark is missing. The scores model (tag factor_scores) is left out on
both engines: it reads what the Python factor models write, which do not run on Spark yet.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from powerseg.engine import lake_table_dir, land_raw_in_lake, spark_home
from powerseg.landing import load_landing
from powerseg.settings import Settings
from tests.conftest import MARTS
from tests.dbt.conftest import run_dbt

from .compare import lake_frame, table_differences

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
DBT_DIR = REPO / "dbt_project"
CUSTOMERS, MONTHS, SEED = 1500, 12, 7
# The extract ends in October 2026; July's outcome window (August to October) lies inside it,
# so fct_outcomes has labels to compare, not only nulls.
AS_OF_MONTH = "2026-07"
KEYS = ["customer_id", "as_of_month"]


def _spark_missing() -> str | None:
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        return "no Java runtime (java on PATH or JAVA_HOME): Spark needs Java 17"
    try:
        import dbt.adapters.spark  # noqa: F401
        import pyspark  # noqa: F401
    except ImportError as exc:
        return f"pyspark / dbt-spark not installed ({exc}): install the `spark` extra"
    return None


@dataclass(frozen=True)
class EngineBuild:
    settings: Settings
    result: subprocess.CompletedProcess
    seconds: float
    work: Path

    def failed_nodes(self) -> list[str]:
        path = self.work / "target" / "run_results.json"
        if not path.exists():
            return ["(no run_results.json)"]
        results = json.loads(path.read_text())["results"]
        return [r["unique_id"] for r in results if r["status"] not in ("success", "pass")]


def _build(engine: str, data_dir: Path, raw_dir: Path) -> EngineBuild:
    """Load the landing folder for `engine` and run `dbt build` for AS_OF_MONTH in a working
    directory of its own (which must stay empty)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("POWERSEG_", "DBT_SPARK_"))}
    environ |= {
        "POWERSEG_DATA_DIR": str(data_dir),
        "POWERSEG_RAW_DIR": str(raw_dir),
        "POWERSEG_ENGINE": engine,
    }
    settings = Settings.from_env(environ)
    if engine == "duckdb":
        with duckdb.connect(str(settings.warehouse_path)) as con:
            load_landing(raw_dir, con, settings=settings)
    else:
        land_raw_in_lake(raw_dir, settings)
    work = data_dir / f"dbt-{engine}"
    cwd = work / "cwd"
    cwd.mkdir(parents=True)
    env = environ | settings.export_env()
    env |= {
        "POWERSEG_AS_OF_MONTH": AS_OF_MONTH,
        "POWERSEG_HISTORY_MONTHS": "1",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    started = time.perf_counter()
    result = run_dbt(
        ["build", "--exclude", "tag:factor_scores"], settings.warehouse_path, work, env=env, cwd=cwd
    )
    return EngineBuild(settings, result, time.perf_counter() - started, work)


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> dict[str, EngineBuild]:
    missing = _spark_missing()
    if missing:
        pytest.skip(missing)
    from simulator import simulate

    extract = tmp_path_factory.mktemp("engine_extract")
    simulate(extract, customers=CUSTOMERS, months=MONTHS, seed=SEED, progress=False)
    out = {}
    for engine in ("duckdb", "spark"):
        data_dir = tmp_path_factory.mktemp(f"engine_{engine}")
        out[engine] = _build(engine, data_dir, extract / "raw")
    print(
        f"dbt build of {AS_OF_MONTH}, {CUSTOMERS} customers x {MONTHS} months: "
        + ", ".join(f"{engine} {build.seconds:.1f} s" for engine, build in out.items())
    )
    return out


@pytest.mark.parametrize("engine", ["duckdb", "spark"])
def test_dbt_build_passes_every_model_and_test(builds, engine):
    build = builds[engine]
    assert build.result.returncode == 0, (
        f"dbt build on {engine} failed ({build.failed_nodes()}):\n{build.result.stdout[-6000:]}"
    )
    assert build.failed_nodes() == []


def _duckdb_frame(build: EngineBuild, schema: str, table: str):
    with duckdb.connect(str(build.settings.warehouse_path), read_only=True) as con:
        return con.execute(f"select * from {schema}.{table}").df()


@pytest.mark.parametrize("table", MARTS)
def test_marts_are_equal_row_by_row(builds, table):
    duck = _duckdb_frame(builds["duckdb"], "marts", table)
    spark = lake_frame(builds["spark"].settings.lake_dir, "marts", table)
    assert len(duck) > 1000, f"marts.{table} holds only {len(duck)} rows on DuckDB"
    assert set(duck["as_of_month"].astype(str).str[:7]) == {AS_OF_MONTH}
    assert table_differences(duck, spark, f"marts.{table}", KEYS) == []


def test_row_accounting_is_equal(builds):
    duck = _duckdb_frame(builds["duckdb"], "quarantine", "row_accounting")
    spark = lake_frame(builds["spark"].settings.lake_dir, "quarantine", "row_accounting")
    assert table_differences(duck, spark, "quarantine.row_accounting", ["table_name"]) == []
    rows = duck.set_index("table_name")
    assert (
        rows["raw_rows"] == rows["staged_rows"] + rows["quarantined_rows"] + rows["duplicate_rows"]
    ).all()
    assert rows.loc["meter_reads_daily", "staged_rows"] > 500_000


def test_outcome_labels_are_compared_not_only_nulls(builds):
    spark = lake_frame(builds["spark"].settings.lake_dir, "marts", "fct_outcomes")
    for column in ("outage_contact_72h_next", "arrears_30d_next", "first_outage_next_start_at"):
        assert spark[column].notna().sum() > 0, f"marts.fct_outcomes.{column} is all null"


def test_spark_tables_are_parquet_folders_under_the_data_folder(builds):
    settings = builds["spark"].settings
    customer_360 = lake_table_dir(settings.lake_dir, "marts", "customer_360")
    # one partition folder per as-of month: what insert_overwrite replaces
    assert [p.name for p in customer_360.iterdir() if p.is_dir()] == [
        f"as_of_month={AS_OF_MONTH}-01"
    ]
    assert list(customer_360.glob("*/*.parquet"))
    assert list(lake_table_dir(settings.lake_dir, "raw", "meter_reads_daily").glob("*.parquet"))
    assert (spark_home(settings) / "metastore_db").is_dir()
    # nothing in the working directory dbt ran in, nor in the project folder
    assert list((builds["spark"].work / "cwd").iterdir()) == []
    strays = ("metastore_db", "derby.log", "spark-warehouse")
    assert [name for name in strays if (DBT_DIR / name).exists()] == []
