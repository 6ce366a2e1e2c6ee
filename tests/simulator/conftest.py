"""Fixtures for the simulator tests: one small extract per session and DuckDB views over it.

The size is the simulator's own (not the shared test size) so the planted-effect thresholds hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from powerseg.contract import TABLE_NAMES
from simulator import TRUTH_FILE, simulate

CUSTOMERS = 3000
MONTHS = 15
SEED = 11
END_MONTH = "2026-10"


@dataclass(frozen=True)
class Extract:
    root: Path
    manifest: dict

    @property
    def raw(self) -> Path:
        return self.root / "raw"


@pytest.fixture(scope="session")
def extract(tmp_path_factory) -> Extract:
    root = tmp_path_factory.mktemp("sim")
    manifest = simulate(
        root, customers=CUSTOMERS, months=MONTHS, seed=SEED, end_month=END_MONTH, progress=False
    )
    return Extract(root, manifest)


@pytest.fixture(scope="session")
def db(extract) -> duckdb.DuckDBPyConnection:
    """In-memory DuckDB with one view per raw table plus `truth`."""
    con = duckdb.connect()
    for table in TABLE_NAMES:
        con.execute(
            f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{extract.raw / table}/*.parquet')"
        )
    con.execute(f"CREATE VIEW truth AS SELECT * FROM read_parquet('{extract.root / TRUTH_FILE}')")
    yield con
    con.close()
