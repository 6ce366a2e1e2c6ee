"""The landing loader loads exactly what the manifest lists, enforces the table-level contract and
never half-loads an extract; `powerseg manifest` writes the manifest for a folder of table files."""

import datetime as dt
import json

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from powerseg.contract import MANIFEST_FILE, TABLES
from powerseg.landing import LandingError, extract_status, folder_contents, load_landing
from powerseg.manifest import build_manifest, write_manifest

_SAMPLE = {
    "VARCHAR": ("x", pa.string()),
    "DOUBLE": (1.5, pa.float64()),
    "INTEGER": (3, pa.int32()),
    "BOOLEAN": (True, pa.bool_()),
    "DATE": (dt.date(2026, 1, 1), pa.date32()),
    "TIMESTAMP": (dt.datetime(2026, 1, 1, 8), pa.timestamp("us")),
}


def write_table(raw, name, rows=2, drop=(), rename=None, extra=None, file="part-0.parquet"):
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
    pq.write_table(pa.table(columns), folder / file)


def edit_manifest(raw, edit) -> None:
    content = json.loads((raw / MANIFEST_FILE).read_text())
    edit(content)
    (raw / MANIFEST_FILE).write_text(json.dumps(content))


@pytest.fixture
def raw(tmp_path):
    raw = tmp_path / "raw"
    for name in TABLES:
        write_table(raw, name)
    write_manifest(raw)
    return raw


def connect(tmp_path):
    return duckdb.connect(str(tmp_path / "w.duckdb"))


def test_loads_every_table_with_lineage_columns(raw, tmp_path):
    con = connect(tmp_path)
    loaded = load_landing(raw, con)
    assert {t: r.rows for t, r in loaded.items()} == {t: 2 for t in TABLES}
    files = con.execute("select distinct _source_file from raw.bills").fetchall()
    assert files == [("bills/part-0.parquet",)]
    assert con.execute("select list(_source_row order by _source_row) from raw.bills").fetchone()[
        0
    ] == [1, 2]


def test_no_manifest_stops_and_lists_what_is_there(raw, tmp_path):
    (raw / MANIFEST_FILE).unlink()
    for f in (raw / "outages").iterdir():
        f.unlink()
    with pytest.raises(LandingError) as err:
        load_landing(raw, connect(tmp_path))
    message = str(err.value)
    assert f"no {MANIFEST_FILE} yet (the producer writes it last)" in message
    assert "bills (bills/part-0.parquet)" in message
    assert "contract tables with no file: outages" in message
    assert f"run `powerseg manifest {raw}`" in message
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        assert con.execute("select count(*) from information_schema.tables").fetchone()[0] == 0


def test_a_listed_file_that_is_missing_is_named(raw, tmp_path):
    for f in (raw / "payments").iterdir():
        f.unlink()
    with pytest.raises(LandingError) as err:
        load_landing(raw, connect(tmp_path))
    assert "payments: files listed in the manifest are missing: ['payments/part-0.parquet']" in (
        str(err.value)
    )


def test_row_count_not_matching_the_manifest_fails_naming_table_expected_and_found(raw, tmp_path):
    con = connect(tmp_path)
    load_landing(raw, con)
    write_table(raw, "bills", rows=5)  # the file changed after the manifest was written
    with pytest.raises(LandingError, match="bills: manifest says 2 rows, files hold 5"):
        load_landing(raw, con)
    assert con.execute("select count(*) from raw.bills").fetchone()[0] == 2


def test_unlisted_files_are_reported_and_ignored(raw, tmp_path, caplog):
    write_table(raw, "payments", rows=7, file="payments_resend_old.parquet")
    con = connect(tmp_path)

    loaded = load_landing(raw, con)

    assert loaded["payments"].rows == 2
    assert loaded["payments"].unlisted_files == ("payments/payments_resend_old.parquet",)
    assert loaded["bills"].unlisted_files == ()
    assert con.execute("select list(distinct _source_file) from raw.payments").fetchone()[0] == [
        "payments/part-0.parquet"
    ]
    assert (
        "raw.payments: 1 file(s) not listed in _manifest.json ignored: "
        "payments/payments_resend_old.parquet" in caplog.text
    )
    status = extract_status(raw)
    assert status.complete  # a stray file does not make a complete extract incomplete
    assert status.unlisted == {"payments": ("payments/payments_resend_old.parquet",)}


def test_a_manifest_without_files_means_every_table_file(raw, tmp_path):
    write_table(raw, "payments", rows=3, file="part-1.parquet")
    edit_manifest(raw, lambda m: m["tables"]["payments"].update(rows=5, files=[]))

    loaded = load_landing(raw, connect(tmp_path), tables=("payments",))

    assert loaded["payments"].rows == 5 and loaded["payments"].files == 2


def test_missing_and_renamed_columns_are_named(raw, tmp_path):
    write_table(raw, "bills", rename={"due_date": "due_dt"})
    with pytest.raises(LandingError) as err:
        load_landing(raw, connect(tmp_path))
    assert "raw table 'bills' is missing required column(s) due_date" in str(err.value)
    assert "'due_dt' looks like a renamed 'due_date'" in str(err.value)


def test_extra_columns_are_ignored_and_empty_tables_load(raw, tmp_path):
    write_table(raw, "work_orders", extra={"legacy_code": "A"})
    write_table(raw, "inspections", rows=0)
    write_manifest(raw, force=True)
    loaded = load_landing(raw, connect(tmp_path))
    assert loaded["work_orders"].ignored_columns == ("legacy_code",)
    assert loaded["inspections"].is_empty


def test_a_broken_extract_leaves_the_loaded_tables_untouched(raw, tmp_path):
    con = connect(tmp_path)
    load_landing(raw, con)
    write_table(raw, "bills", rows=5)
    write_table(raw, "outages", drop=("cause",))
    write_manifest(raw, force=True)
    with pytest.raises(LandingError, match="outages"):
        load_landing(raw, con)
    assert con.execute("select count(*) from raw.bills").fetchone()[0] == 2


def _reads_and_bills(raw, first: dt.date, days: int, bill_months: int, customers: int = 3):
    """Daily reads from `first` for `days` days plus one stray read 90 days later, and bills of
    each customer for the first `bill_months` months."""
    reads = [(f"C{c}", first + dt.timedelta(days=d)) for d in range(days) for c in range(customers)]
    reads.append(("C0", first + dt.timedelta(days=days + 90)))
    pq.write_table(
        pa.table(
            {
                "customer_id": [r[0] for r in reads],
                "read_date": pa.array([r[1] for r in reads], pa.date32()),
                "kwh": [1.0] * len(reads),
            }
        ),
        raw / "meter_reads_daily" / "part-0.parquet",
    )
    months = [dt.date(first.year + (first.month - 1 + m) // 12, (first.month - 1 + m) % 12 + 1, 1)
              for m in range(bill_months)]  # fmt: skip
    bills = [(f"C{c}", month) for month in months for c in range(customers)]
    pq.write_table(
        pa.table(
            {
                "customer_id": [b[0] for b in bills],
                "bill_month": pa.array([b[1] for b in bills], pa.date32()),
                "kwh": [30.0] * len(bills),
                "amount": [15.0] * len(bills),
                "due_date": pa.array([b[1] + dt.timedelta(days=45) for b in bills], pa.date32()),
            }
        ),
        raw / "bills" / "part-0.parquet",
    )


def test_manifest_counts_rows_lists_files_and_derives_the_window(raw):
    # reads 2019-01-01 .. 2019-07-31 (and one stray read in October), bills January to June
    _reads_and_bills(raw, dt.date(2019, 1, 1), days=212, bill_months=6)
    write_table(raw, "meter_events", rows=4, file="part-1.parquet")

    manifest, window = build_manifest(raw)

    assert manifest["producer"] == "powerseg manifest"
    assert manifest["tables"]["meter_reads_daily"]["rows"] == 3 * 212 + 1
    assert manifest["tables"]["meter_events"] == {
        "rows": 6,
        "files": ["meter_events/part-0.parquet", "meter_events/part-1.parquet"],
    }
    assert manifest["tables"]["bills"]["rows"] == 3 * 6
    assert window.derived_from == "meter_reads_daily.read_date and bills.bill_month"
    assert manifest["extract_start"] == "2019-01-01"
    assert manifest["extract_end"] == "2019-07-31"  # the stray October read is not coverage
    # the fixture's manifest predates the new files; the rewritten one is complete
    assert "bills: manifest says 2 rows, files hold 18" in extract_status(raw).problems
    write_manifest(raw, force=True)
    status = extract_status(raw)
    assert status.complete and status.last_complete_month == "2019-07"


def test_manifest_window_from_bills_when_there_are_no_reads(raw):
    _reads_and_bills(raw, dt.date(2005, 3, 1), days=0, bill_months=4)
    write_table(raw, "meter_reads_daily", rows=0)

    manifest, window = build_manifest(raw)

    assert window.derived_from == "bills.bill_month"
    assert (manifest["extract_start"], manifest["extract_end"]) == ("2005-03-01", "2005-06-30")


def test_manifest_needs_bills_and_takes_given_dates(raw):
    write_table(raw, "bills", rows=0)  # not valid as an extract: bills must have rows
    with pytest.raises(LandingError, match="bills has no rows in bills/part-0.parquet"):
        build_manifest(raw)

    write_table(raw, "bills")
    manifest, _ = build_manifest(
        raw, extract_start=dt.date(2005, 3, 1), extract_end=dt.date(2005, 6, 8)
    )
    assert (manifest["extract_start"], manifest["extract_end"]) == ("2005-03-01", "2005-06-08")


def test_manifest_is_not_overwritten_without_force(raw):
    before = (raw / MANIFEST_FILE).read_bytes()
    write_table(raw, "bills", rows=9)
    with pytest.raises(
        LandingError, match=r"already exists \(written by powerseg manifest\).*\(use --force"
    ):
        write_manifest(raw)
    assert (raw / MANIFEST_FILE).read_bytes() == before

    manifest, _ = write_manifest(raw, force=True)
    assert manifest["tables"]["bills"]["rows"] == 9
    assert extract_status(raw).complete


def test_manifest_refuses_a_folder_missing_tables(tmp_path):
    raw = tmp_path / "raw"
    write_table(raw, "customers")
    write_table(raw, "payments")
    with pytest.raises(LandingError) as err:
        write_manifest(raw)
    assert "no Parquet files for contract table(s) meter_reads_daily" in str(err.value)
    assert "(at least bills must have rows)" in str(err.value)
    assert not (raw / MANIFEST_FILE).exists()
    assert folder_contents(raw).tables == {
        "customers": ("customers/part-0.parquet",),
        "payments": ("payments/part-0.parquet",),
    }
