"""Shared fixtures: one small simulated extract and one warehouse built from it per test session.

Sizes are small enough for CI and large enough for the models to find what the simulator planted;
POWERSEG_TEST_CUSTOMERS overrides the customer count.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parent.parent
TEST_CUSTOMERS = int(os.environ.get("POWERSEG_TEST_CUSTOMERS", "6000"))
TEST_MONTHS = 18
TEST_SEED = 7


@dataclass(frozen=True)
class BuiltWarehouse:
    data_dir: Path
    raw_dir: Path
    truth_dir: Path
    warehouse: Path

    def connect(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.warehouse), read_only=True)


@pytest.fixture(scope="session")
def sim_extract(tmp_path_factory) -> Path:
    from simulator import simulate

    data_dir = tmp_path_factory.mktemp("extract")
    simulate(data_dir, customers=TEST_CUSTOMERS, months=TEST_MONTHS, seed=TEST_SEED, progress=False)
    return data_dir


def powerseg_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "powerseg.cli", *args], env=env, capture_output=True, text=True
    )


def landing_env(data_dir: Path, raw_dir: Path) -> dict[str, str]:
    """Environment of a `powerseg run` on the landing folder `raw_dir` into `data_dir`."""
    env = dict(
        os.environ,
        POWERSEG_DATA_DIR=str(data_dir),
        POWERSEG_RAW_DIR=str(raw_dir),
        POWERSEG_SOURCE="landing",
        DAGSTER_HOME=str(data_dir / "dagster"),
    )
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


@dataclass(frozen=True)
class PipelineRun:
    data_dir: Path
    raw_dir: Path
    truth_dir: Path
    result: subprocess.CompletedProcess

    @property
    def warehouse(self) -> Path:
        return self.data_dir / "warehouse.duckdb"

    def connect(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.warehouse), read_only=True)


PREVIOUS_MONTH = "2026-09"  # the session extract ends with October 2026


@pytest.fixture(scope="session")
def pipeline_run(sim_extract, tmp_path_factory) -> PipelineRun:
    """Two monthly runs of the whole graph on the session extract, as a utility runs it: the
    previous month, then the newest (`powerseg run` without --as-of). Shared by the tests that
    read what runs leave behind (marts, scores, outputs, MLflow)."""
    data_dir = tmp_path_factory.mktemp("pipeline")
    env = landing_env(data_dir, sim_extract / "raw")
    for args in (["run", "--as-of", PREVIOUS_MONTH], ["run"]):
        result = powerseg_cli(*args, env=env)
        if result.returncode != 0:
            raise AssertionError(
                f"powerseg {' '.join(args)} failed:\n{result.stdout[-3000:]}\n"
                f"{result.stderr[-6000:]}"
            )
    return PipelineRun(data_dir, sim_extract / "raw", sim_extract / "truth", result)


@pytest.fixture(scope="session")
def built_warehouse(pipeline_run) -> BuiltWarehouse:
    """The marts of the session's pipeline run (the models' recovery tests read them)."""
    return BuiltWarehouse(
        pipeline_run.data_dir, pipeline_run.raw_dir, pipeline_run.truth_dir, pipeline_run.warehouse
    )


# 10 significant digits, never finer than 6 decimals: the features' last-bit noise can move a
# model output by ~1e-10, which a finer rounding would now and then catch on a rounding edge
SETTLED = (
    'case when "{c}" = 0 or not isfinite("{c}") then "{c}" else '
    'round("{c}", least(6, 9 - cast(floor(log10(abs("{c}"))) as integer))) end'
)


def table_month_hashes(warehouse: Path, tables, months) -> dict[tuple[str, str], tuple[int, int]]:
    """(table, 'YYYY-MM') -> (rows, order-independent hash of every row of that as-of month).
    Doubles are hashed to 10 significant digits, at most 6 decimals: DuckDB's parallel sums of
    doubles are not reproducible in the last bits, and a month must compare equal however often
    it was rebuilt."""
    import datetime as dt

    out = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for table in tables:
            schema, name = table.split(".")
            columns = con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = ? and table_name = ? order by ordinal_position",
                [schema, name],
            ).fetchall()
            row = ", ".join(
                SETTLED.format(c=c) if kind in ("DOUBLE", "FLOAT") else f'"{c}"'
                for c, kind in columns
            )
            for month in months:
                out[table, month] = con.execute(
                    f"select count(*), coalesce(sum(hash(row({row}))), 0) from {table} "
                    "where cast(as_of_month as date) = ?",
                    [dt.date.fromisoformat(f"{month}-01")],
                ).fetchone()
    return out
