"""POWERSEG_ENGINE and the lake without a Spark session: the settings and their checks, the raw
tables the loader writes for Spark (the same rows DuckDB's raw schema gets, all or nothing) and
the profile's Spark targets (nothing downloaded, nothing written outside the data folder)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest
import yaml

from powerseg.contract import MANIFEST_FILE, TABLE_NAMES
from powerseg.engine import RAW_FILE, lake_table_dir, land_raw_in_lake, raw_lake_dir
from powerseg.landing import LandingError, load_landing
from powerseg.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def test_engine_defaults_to_duckdb_and_spark_picks_its_target(tmp_path):
    default = Settings.from_env({"POWERSEG_DATA_DIR": str(tmp_path)})
    assert (default.engine, default.dbt_target) == ("duckdb", "local")
    assert default.lake_dir == tmp_path.resolve() / "lake"
    spark = Settings.from_env({"POWERSEG_DATA_DIR": str(tmp_path), "POWERSEG_ENGINE": "spark"})
    assert (spark.engine, spark.dbt_target) == ("spark", "spark")
    exported = spark.export_env()
    assert exported["POWERSEG_ENGINE"] == "spark"
    assert exported["POWERSEG_LAKE_DIR"] == str(tmp_path.resolve() / "lake")
    moved = Settings.from_env({"POWERSEG_ENGINE": "spark", "POWERSEG_LAKE_DIR": str(tmp_path)})
    assert moved.lake_dir == tmp_path.resolve()
    cluster = {"POWERSEG_ENGINE": "spark", "POWERSEG_DBT_TARGET": "spark_thrift"}
    assert Settings.from_env(cluster).dbt_target == "spark_thrift"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"POWERSEG_ENGINE": "trino"}, "POWERSEG_ENGINE='trino' is not an engine"),
        (
            {"POWERSEG_ENGINE": "spark", "POWERSEG_DBT_TARGET": "local"},
            "POWERSEG_DBT_TARGET='local' is not a target of POWERSEG_ENGINE='spark'",
        ),
        (
            {"POWERSEG_DBT_TARGET": "spark"},
            "POWERSEG_DBT_TARGET='spark' is not a target of POWERSEG_ENGINE='duckdb'",
        ),
    ],
)
def test_a_wrong_engine_or_target_names_its_variable(environ, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        Settings.from_env(environ)


@pytest.fixture(scope="module")
def small_extract(tmp_path_factory) -> Path:
    from simulator import simulate

    folder = tmp_path_factory.mktemp("lake_extract")
    simulate(folder, customers=100, months=3, seed=3, progress=False)
    return folder / "raw"


def _settings(data_dir: Path) -> Settings:
    return Settings.from_env({"POWERSEG_DATA_DIR": str(data_dir), "POWERSEG_ENGINE": "spark"})


def test_lake_raw_tables_hold_the_rows_duckdb_loads(small_extract, tmp_path):
    settings = _settings(tmp_path)
    loaded = land_raw_in_lake(small_extract, settings)
    assert set(loaded) == set(TABLE_NAMES)
    with duckdb.connect() as con:
        load_landing(small_extract, con, settings=settings)
        for table in TABLE_NAMES:
            lake_file = lake_table_dir(settings.lake_dir, "raw", table) / RAW_FILE
            lake_sql = f"select * from read_parquet('{lake_file}')"
            assert (
                con.execute(f"describe {lake_sql}").fetchall()
                == con.execute(f"describe select * from raw.{table}").fetchall()
            ), f"raw.{table}: the lake file's columns differ from DuckDB's raw table"
            differing = con.execute(
                f"select count(*) from (({lake_sql}) except all (select * from raw.{table}))"
            ).fetchone()[0]
            rows = con.execute(f"select count(*) from raw.{table}").fetchone()[0]
            assert (differing, loaded[table].rows) == (0, rows), f"raw.{table}"
    assert loaded["meter_reads_daily"].rows > 5000


def test_a_broken_extract_leaves_the_lake_as_it_was(small_extract, tmp_path):
    settings = _settings(tmp_path)
    land_raw_in_lake(small_extract, settings)
    before = {p: p.stat().st_mtime_ns for p in raw_lake_dir(settings.lake_dir).rglob("*.parquet")}
    broken = tmp_path / "broken"
    broken.mkdir()
    for table in TABLE_NAMES:
        (broken / table).symlink_to(small_extract / table, target_is_directory=True)
    manifest = json.loads((small_extract / MANIFEST_FILE).read_text())
    manifest["tables"]["payments"]["rows"] += 1
    (broken / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(LandingError, match="payments: manifest says"):
        land_raw_in_lake(broken, settings)
    after = {p: p.stat().st_mtime_ns for p in raw_lake_dir(settings.lake_dir).rglob("*.parquet")}
    assert len(before) == len(TABLE_NAMES) and after == before
    assert not list(raw_lake_dir(settings.lake_dir).glob(".loading-*"))


def test_spark_targets_download_nothing_and_write_under_the_data_folder():
    outputs = yaml.safe_load((REPO / "dbt_project" / "profiles.yml").read_text())["powerseg"][
        "outputs"
    ]
    assert {"spark", "spark_thrift", "spark_http"} <= outputs.keys()
    session = outputs["spark"]
    assert (session["type"], session["method"]) == ("spark", "session")
    parameters = session["server_side_parameters"]
    assert not [key for key in parameters if "jars" in key or "packages" in key]
    assert "POWERSEG_LAKE_DIR" in parameters["spark.sql.warehouse.dir"]
    for key in (
        "spark.hadoop.javax.jdo.option.ConnectionURL",
        "spark.driver.extraJavaOptions",
        "spark.local.dir",
    ):
        assert "env_var('POWERSEG_DATA_DIR'" in parameters[key], key
    assert parameters["spark.sql.sources.partitionOverwriteMode"] == "dynamic"
    for name in ("spark_thrift", "spark_http"):
        assert "env_var('DBT_SPARK_HOST')" in outputs[name]["host"]
    assert "env_var('DBT_SPARK_TOKEN')" in outputs["spark_http"]["token"]
