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
DBT_DIR = REPO / "dbt_project"
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


def run_dbt(args: list[str], warehouse: Path, target_path: Path, check: bool = True):
    env = dict(os.environ, POWERSEG_WAREHOUSE=str(warehouse))
    cmd = [
        str(Path(sys.executable).parent / "dbt"),
        *args,
        "--project-dir",
        str(DBT_DIR),
        "--profiles-dir",
        str(DBT_DIR),
        "--target-path",
        str(target_path),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"dbt {' '.join(args)} failed:\n{proc.stdout[-6000:]}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def sim_extract(tmp_path_factory) -> Path:
    from simulator import simulate

    data_dir = tmp_path_factory.mktemp("extract")
    simulate(data_dir, customers=TEST_CUSTOMERS, months=TEST_MONTHS, seed=TEST_SEED, progress=False)
    return data_dir


@pytest.fixture(scope="session")
def built_warehouse(sim_extract, tmp_path_factory) -> BuiltWarehouse:
    from powerseg.landing import load_landing

    work = tmp_path_factory.mktemp("warehouse")
    warehouse = work / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        load_landing(sim_extract / "raw", con)
    run_dbt(["build", "--quiet", "--exclude", "tag:factor_scores"], warehouse, work / "dbt_target")
    return BuiltWarehouse(sim_extract, sim_extract / "raw", sim_extract / "truth", warehouse)
