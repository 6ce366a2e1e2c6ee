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
from typing import NamedTuple

import duckdb
import pandas as pd
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


class MonthContent(NamedTuple):
    """One table's rows of one as-of month. Two compare equal when they hold the same rows:
    every column exactly, except doubles, which agree to 1e-6 relative. DuckDB's parallel sums
    of doubles differ in the last bits from run to run (and a model fed them moves by ~1e-9), so
    no rounding of them hashes stably: a value can always sit on a rounding edge."""

    rows: int
    frame: pd.DataFrame

    def __eq__(self, other) -> bool:
        if not isinstance(other, MonthContent) or self.rows != other.rows:
            return False
        if list(self.frame.columns) != list(other.frame.columns):
            return False
        try:
            pd.testing.assert_frame_equal(
                self.frame, other.frame, check_exact=False, rtol=1e-6, atol=1e-9
            )
        except AssertionError:
            return False
        return True

    def __ne__(self, other) -> bool:
        return not self == other

    __hash__ = None


def table_month_contents(warehouse: Path, tables, months) -> dict[tuple[str, str], MonthContent]:
    """(table, 'YYYY-MM') -> that as-of month's rows, in a fixed order."""
    import datetime as dt

    out = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for table in tables:
            for month in months:
                frame = con.execute(
                    f"select * from {table} where cast(as_of_month as date) = ?",
                    [dt.date.fromisoformat(f"{month}-01")],
                ).df()
                exact = [c for c in frame.columns if frame[c].dtype.kind != "f"]
                frame = frame.sort_values(exact, ignore_index=True) if exact else frame
                out[table, month] = MonthContent(len(frame), frame)
    return out
