"""The landing loader enforces the table-level contract and never half-loads an extract."""

import datetime as dt

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from powerseg.contract import TABLES
from powerseg.landing import LandingError, load_landing

_SAMPLE = {
    "VARCHAR": ("x", pa.string()),
    "DOUBLE": (1.5, pa.float64()),
    "INTEGER": (3, pa.int32()),
    "BOOLEAN": (True, pa.bool_()),
    "DATE": (dt.date(2026, 1, 1), pa.date32()),
    "TIMESTAMP": (dt.datetime(2026, 1, 1, 8), pa.timestamp("us")),
}


def write_table(raw, name, rows=2, drop=(), rename=None, extra=None):
    columns = {}
    for col in TABLES[name].columns:
        if col.name in drop:
            continue
        value, typ = _SAMPLE[col.dtype]
        if col.allowed:
            value = col.allowed[0]
        columns[(rename or {}).get(col.name, col.name)] = pa.array([value] * rows, typ)
    for key, value in (extra or {}).items():
        columns[key] = pa.array([value] * rows)
    folder = raw / name
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), folder / "part-0.parquet")


@pytest.fixture
def raw(tmp_path):
    raw = tmp_path / "raw"
    for name in TABLES:
        write_table(raw, name)
    return raw


def test_loads_every_table_with_lineage_columns(raw, tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    loaded = load_landing(raw, con)
    assert {t: r.rows for t, r in loaded.items()} == {t: 2 for t in TABLES}
    files = con.execute("select distinct _source_file from raw.bills").fetchall()
    assert files == [("bills/part-0.parquet",)]
    assert con.execute("select list(_source_row order by _source_row) from raw.bills").fetchone()[
        0
    ] == [1, 2]


def test_missing_table_is_named(raw, tmp_path):
    for f in (raw / "payments").iterdir():
        f.unlink()
    with pytest.raises(LandingError, match="raw table 'payments' is missing"):
        load_landing(raw, duckdb.connect(str(tmp_path / "w.duckdb")))


def test_missing_and_renamed_columns_are_named(raw, tmp_path):
    write_table(raw, "bills", rename={"due_date": "due_dt"})
    with pytest.raises(LandingError) as err:
        load_landing(raw, duckdb.connect(str(tmp_path / "w.duckdb")))
    assert "raw table 'bills' is missing required column(s) due_date" in str(err.value)
    assert "'due_dt' looks like a renamed 'due_date'" in str(err.value)


def test_extra_columns_are_ignored_and_empty_tables_load(raw, tmp_path):
    write_table(raw, "work_orders", extra={"legacy_code": "A"})
    write_table(raw, "inspections", rows=0)
    loaded = load_landing(raw, duckdb.connect(str(tmp_path / "w.duckdb")))
    assert loaded["work_orders"].ignored_columns == ("legacy_code",)
    assert loaded["inspections"].is_empty


def test_a_broken_extract_leaves_the_loaded_tables_untouched(raw, tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    load_landing(raw, con)
    write_table(raw, "bills", rows=5)
    write_table(raw, "outages", drop=("cause",))
    with pytest.raises(LandingError, match="outages"):
        load_landing(raw, con)
    assert con.execute("select count(*) from raw.bills").fetchone()[0] == 2
