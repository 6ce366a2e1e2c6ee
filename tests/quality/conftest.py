"""A tiny clean extract built from the contract, loaded into a warehouse once per session; each
test copies the warehouse and plants one defect with SQL.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from powerseg.contract import TABLES, Column, Table, arrow_types
from powerseg.landing import load_landing
from powerseg.manifest import write_manifest
from simulator import DefectPlan, simulate

EXTRACT_END = dt.date(2026, 10, 31)
CUSTOMERS = 200
ROWS = {"customers": CUSTOMERS, "supply_topology": CUSTOMERS, "meter_reads_daily": 2000}
DEFAULT_ROWS = 400

_ARROW = arrow_types()


def customer_id(i: int) -> str:
    return f"C{i % CUSTOMERS + 1:07d}"


def _value(table: Table, col: Column, i: int):
    """Row i of a clean table: keys unique (customer i % 200, day i // 200), values allowed."""
    days_back = i // CUSTOMERS
    if col.name == "customer_id":
        return customer_id(i)
    if col.name == table.time_column or col.dtype in ("DATE", "TIMESTAMP"):
        if table.name == "customers":
            return EXTRACT_END - dt.timedelta(days=400 + i)
        if col.name == "bill_month":
            month = EXTRACT_END.month - days_back
            return dt.date(EXTRACT_END.year, month, 1)
        if col.dtype == "DATE":
            return EXTRACT_END - dt.timedelta(days=days_back)
        return dt.datetime.combine(EXTRACT_END, dt.time(12)) - dt.timedelta(minutes=i)
    if col.allowed:
        return col.allowed[i % len(col.allowed)]
    if col.dtype == "VARCHAR":
        return f"{col.name[:3].upper()}{i:07d}"
    if col.dtype == "BOOLEAN":
        return i % 2 == 0
    low = col.minimum if col.minimum is not None else 0
    high = col.maximum if col.maximum is not None else low + 50
    value = low + i % int(high - low + 1)
    return float(value) if col.dtype == "DOUBLE" else int(value)


def write_clean_extract(raw_dir: Path) -> None:
    for table in TABLES.values():
        n = ROWS.get(table.name, DEFAULT_ROWS)
        data = {
            col.name: pa.array([_value(table, col, i) for i in range(n)], _ARROW[col.dtype])
            for col in table.columns
        }
        folder = raw_dir / table.name
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table(data), folder / "part-0.parquet")


@pytest.fixture(scope="session")
def clean_warehouse(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("quality")
    write_clean_extract(root / "raw")
    write_manifest(root / "raw")
    path = root / "clean.duckdb"
    with duckdb.connect(str(path)) as con:
        load_landing(root / "raw", con)
    return path


@pytest.fixture
def defect(clean_warehouse, tmp_path) -> Callable[..., Path]:
    """Copy the clean warehouse and run SQL on the copy; the writer is closed before returning."""

    def plant(*statements: str) -> Path:
        path = tmp_path / "warehouse.duckdb"
        shutil.copy(clean_warehouse, path)
        with duckdb.connect(str(path)) as con:
            for sql in statements:
                con.execute(sql)
        return path

    return plant


def load_defective_extract(
    out: Path, *, customers: int, months: int, seed: int, rate: float, planted: tuple[str, ...] = ()
) -> Path:
    """A simulated extract with every defect kind at `rate`, loaded into `out`'s warehouse, with
    `planted` SQL run on it afterwards."""
    simulate(
        out,
        customers=customers,
        months=months,
        seed=seed,
        progress=False,
        defects=DefectPlan.uniform(rate),
    )
    warehouse = out / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        load_landing(out / "raw", con)
        for sql in planted:
            con.execute(sql)
    return warehouse
