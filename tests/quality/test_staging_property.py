"""Property: whatever malformed rows arrive, staging never loses one. Each example appends a
batch of generated rows to a clean extract, builds staging and quarantine with dbt, and checks
that every raw row is either staged or quarantined, exactly once.
"""

from __future__ import annotations

import datetime as dt
import shutil

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from powerseg.contract import TABLES, Column
from tests.dbt.conftest import run_dbt
from tests.quality.conftest import CUSTOMERS, EXTRACT_END

# Models only (staging views, quarantine tables, row accounting): the property is checked here.
STAGING_RUN = ["build", "--select", "+row_accounting", "--exclude", "resource_type:test"]

TABLES_FED = ("customers", "meter_reads_daily", "payments", "outages", "work_orders")
HYPOTHESIS_FILE = "hypothesis/batch.parquet"


def _codes(column: Column):
    variants = [v for a in column.allowed for v in (a, a.upper(), f"  {a} ")]
    return st.sampled_from([*variants, "zz_unknown", "", " "])


def value_strategy(column: Column):
    """Valid, borderline and broken values for one contract column (raw types stay typed)."""
    if column.name == "customer_id":
        ids = [f"C{i:07d}" for i in range(1, CUSTOMERS + 1, 37)]
        return st.one_of(st.none(), st.sampled_from([*ids, "C9999999", " C0000001 ", ""]))
    if column.dtype == "VARCHAR":
        if column.allowed:
            return st.one_of(st.none(), _codes(column))
        return st.one_of(st.none(), st.text(alphabet="AB01 ", max_size=4))
    if column.dtype == "DOUBLE":
        return st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False))
    if column.dtype == "INTEGER":
        return st.one_of(st.none(), st.integers(-10, 3000))
    if column.dtype == "BOOLEAN":
        return st.one_of(st.none(), st.booleans())
    days = st.integers(-40_000, 800).map(lambda d: EXTRACT_END + dt.timedelta(days=d))
    if column.dtype == "DATE":
        return st.one_of(st.none(), days)
    return st.one_of(st.none(), days.map(lambda d: dt.datetime.combine(d, dt.time(9, 30))))


def rows_strategy(table: str):
    columns = TABLES[table].columns
    row = st.fixed_dictionaries({c.name: value_strategy(c) for c in columns})
    return st.lists(row, min_size=1, max_size=40)


batch = st.fixed_dictionaries({t: rows_strategy(t) for t in TABLES_FED})


@settings(
    max_examples=2,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)
@given(batch=batch)
def test_every_raw_row_is_staged_or_quarantined(clean_warehouse, tmp_path, batch):
    # The same path every example: dbt's partial parsing survives only an unchanged profile.
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(clean_warehouse, warehouse)
    with duckdb.connect(str(warehouse)) as con:
        for table, rows in batch.items():
            columns = TABLES[table].column_names
            placeholders = ", ".join("?" for _ in range(len(columns) + 2))
            con.executemany(
                f"INSERT INTO raw.{table} ({', '.join(columns)}, _source_file, _source_row) "
                f"VALUES ({placeholders})",
                [
                    [row[c] for c in columns] + [HYPOTHESIS_FILE, i]
                    for i, row in enumerate(rows, start=1)
                ],
            )
    # One dbt target folder for every example: dbt parses the project once, then partially.
    build = run_dbt(STAGING_RUN, warehouse, tmp_path)
    assert build.returncode == 0, build.stdout[-4000:]

    with duckdb.connect(str(warehouse), read_only=True) as con:
        for table in TABLES_FED:
            lost, twice = con.execute(
                f"""
                with landed as (
                    select _source_file, _source_row from staging.stg_raw__{table}
                    union all
                    select _source_file, _source_row from quarantine.q_{table}
                ),
                per_row as (
                    select raw._source_file, raw._source_row, count(landed._source_row) as n
                    from raw.{table} as raw
                    left join landed using (_source_file, _source_row)
                    group by all
                )
                select count(*) filter (where n = 0), count(*) filter (where n > 1) from per_row
                """
            ).fetchone()
            assert (lost, twice) == (0, 0), table
            unexplained = con.execute(
                f"select count(*) from quarantine.q_{table} where reason is null or reason = ''"
            ).fetchone()[0]
            assert unexplained == 0, table
