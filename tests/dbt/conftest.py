"""A small simulated extract with known bad rows planted in it, loaded and built by dbt once per
session (plus a billing-only variant), for the dbt-layer tests.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from powerseg.contract import TABLE_NAMES
from powerseg.manifest import write_manifest

REPO = Path(__file__).resolve().parents[2]
DBT_DIR = REPO / "dbt_project"
CUSTOMERS, MONTHS, SEED = 300, 15, 11
INJECTED_FILE = "zz_injected.parquet"  # sorts after the simulator's files: loaded last
BILLING_TABLES = ("customers", "bills", "payments")


@dataclass(frozen=True)
class Build:
    raw_dir: Path
    warehouse: Path
    target_dir: Path
    result: subprocess.CompletedProcess

    def connect(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.warehouse), read_only=True)

    def query(self, sql: str, *params) -> list[tuple]:
        with self.connect() as con:
            return con.execute(sql, list(params)).fetchall()


def run_dbt(
    args: list[str],
    warehouse: Path,
    work: Path,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess:
    """dbt `args` on `warehouse` (over `env`, default this process's), its target and logs in
    `work`."""
    env = dict(
        os.environ if env is None else env,
        POWERSEG_WAREHOUSE=str(warehouse),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
    )
    cmd = [
        str(Path(sys.executable).parent / "dbt"),
        *args,
        "--project-dir",
        str(DBT_DIR),
        "--profiles-dir",
        str(DBT_DIR),
        "--target-path",
        str(work / "target"),
        "--log-path",
        str(work / "logs"),
    ]
    return subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)


def build(raw_dir: Path, work: Path) -> Build:
    from powerseg.landing import load_landing

    warehouse = work / "warehouse.duckdb"
    con = duckdb.connect(str(warehouse))
    try:
        load_landing(raw_dir, con)
    finally:
        con.close()
    # Models over the factor-model outputs (tag factor_scores) need the Python scoring assets.
    result = run_dbt(["build", "--exclude", "tag:factor_scores"], warehouse, work)
    return Build(raw_dir, warehouse, work / "target", result)


def _append_rows(raw_dir: Path, table: str, rows: list[dict]) -> None:
    """Write `rows` as an extra landing file with the table's own Arrow schema."""
    schema = pq.read_schema(next((raw_dir / table).glob("*.parquet")))
    columns = {field.name: [row.get(field.name) for row in rows] for field in schema}
    pq.write_table(pa.table(columns, schema=schema), raw_dir / table / INJECTED_FILE)


def _first_row(raw_dir: Path, table: str) -> dict:
    first_file = sorted((raw_dir / table).glob("*.parquet"))[0]
    return pq.read_table(first_file).slice(0, 1).to_pylist()[0]


def plant_bad_rows(raw_dir: Path) -> dict:
    """Plant one row per kind of defect; returns what the tests should find."""
    customer = _first_row(raw_dir, "customers")
    read = _first_row(raw_dir, "meter_reads_daily")
    payment = _first_row(raw_dir, "payments")
    outage = _first_row(raw_dir, "outages")
    inspection = _first_row(raw_dir, "inspections")
    last_read = max(
        pq.read_table(f, columns=["read_date"]).column(0).to_pylist()[-1]
        for f in (raw_dir / "meter_reads_daily").glob("*.parquet")
    )

    _append_rows(
        raw_dir,
        "customers",
        [
            dict(customer),  # same key as the first customer: the earlier-loaded row is dropped
            dict(customer, customer_id="CX0000001", status="Martian"),
            dict(customer, customer_id=None),
            dict(
                customer,
                customer_id="  CX0000002 ",
                customer_type=" Residential ",
                voltage_level="0.22KV",
                importance_grade="NONE",
            ),
        ],
    )
    _append_rows(
        raw_dir,
        "meter_reads_daily",
        [
            dict(read),  # exact duplicate
            dict(read, read_date=read["read_date"] + dt.timedelta(days=1), kwh=-3.5),
            dict(read, customer_id="C9999999"),
            dict(read, read_date=last_read + dt.timedelta(days=40)),
            dict(read, read_date=read["read_date"] + dt.timedelta(days=2), read_quality="guessed"),
        ],
    )
    _append_rows(
        raw_dir,
        "payments",
        [
            dict(payment, payment_id="PX00000001", channel="carrier_pigeon"),
            dict(payment, payment_id="PX00000002", channel=" WeChat "),
        ],
    )
    _append_rows(
        raw_dir,
        "outages",
        [dict(outage, outage_id="OX000001", feeder_id="F9999", transformer_id=None)],
    )
    _append_rows(
        raw_dir,
        "inspections",
        [
            dict(inspection, inspection_id="IX000001", inspected_on=dt.date(1990, 1, 1)),
        ],
    )
    return {"customer_id": customer["customer_id"], "read": read}


@pytest.fixture(scope="session")
def planted_extract(tmp_path_factory) -> tuple[Path, dict]:
    from simulator import simulate

    data_dir = tmp_path_factory.mktemp("dbt_extract")
    simulate(data_dir, customers=CUSTOMERS, months=MONTHS, seed=SEED, progress=False)
    planted = plant_bad_rows(data_dir / "raw")
    # The planted files are part of the delivery: its manifest lists them (the loader reads only
    # what the manifest lists).
    write_manifest(data_dir / "raw", force=True)
    return data_dir / "raw", planted


@pytest.fixture(scope="session")
def dbt_build(planted_extract, tmp_path_factory) -> Build:
    raw_dir, _ = planted_extract
    return build(raw_dir, tmp_path_factory.mktemp("dbt_build"))


@pytest.fixture(scope="session")
def billing_only_build(planted_extract, tmp_path_factory) -> Build:
    """The same extract with every table but customers, bills and payments present but empty."""
    raw_dir, _ = planted_extract
    work = tmp_path_factory.mktemp("dbt_billing_only")
    billing_raw = work / "raw"
    for table in TABLE_NAMES:
        (billing_raw / table).mkdir(parents=True)
        for source in sorted((raw_dir / table).glob("*.parquet")):
            data = pq.read_table(source)
            if table not in BILLING_TABLES:
                data = data.slice(0, 0)
            pq.write_table(data, billing_raw / table / source.name)
    write_manifest(billing_raw)
    return build(billing_raw, work)
