"""Defect injection: reproducible from the seed, every injected row recorded where the loader will
find it, clean rows untouched, and the schema kinds break the extract the way they say.
"""

from __future__ import annotations

import duckdb
import pyarrow.parquet as pq
import pytest

from powerseg.landing import LandingError, load_landing
from powerseg_cli.main import build_parser
from powerseg_cli.simulate import defect_plan
from simulator import DefectPlan, read_defects, simulate
from simulator.defects import ROW_KINDS, UNKNOWN_CODE

CUSTOMERS, MONTHS, SEED = 120, 2, 5


@pytest.fixture(scope="module")
def injected(tmp_path_factory):
    out = tmp_path_factory.mktemp("defects")
    simulate(
        out,
        customers=CUSTOMERS,
        months=MONTHS,
        seed=SEED,
        progress=False,
        defects=DefectPlan.uniform(0.01),
    )
    return out


def _raw(out, table):
    return pq.ParquetDataset(out / "raw" / table).read().to_pandas()


def test_same_seed_same_defects(injected, tmp_path):
    simulate(
        tmp_path,
        customers=CUSTOMERS,
        months=MONTHS,
        seed=SEED,
        progress=False,
        defects=DefectPlan.uniform(0.01),
    )
    (_, first), (_, second) = read_defects(injected), read_defects(tmp_path)
    assert first.equals(second)
    for table in ("meter_reads_daily", "customers"):
        assert _raw(injected, table).equals(_raw(tmp_path, table))


def test_every_kind_lands_in_every_eligible_table(injected):
    summary, rows = read_defects(injected)
    kinds = summary["rows_by_table"]
    assert set(kinds["meter_reads_daily"]) == set(ROW_KINDS)
    assert set(kinds["bills"]) == set(ROW_KINDS) - {"unknown_codes"}  # bills have no codes
    assert "orphan_customer_ids" not in kinds["customers"]  # the master has nothing to point at
    assert set(kinds["supply_topology"]) == {"duplicates", "null_keys", "orphan_customer_ids"}
    manifest_rows = summary["landed_rows_by_table"]
    assert manifest_rows["meter_reads_daily"] == len(_raw(injected, "meter_reads_daily"))
    assert rows.num_rows == summary["injected_rows"]


def test_recorded_rows_are_where_the_loader_puts_them(injected, tmp_path):
    _, rows = read_defects(injected)
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        load_landing(injected / "raw", con)
        con.register("injected", rows)
        found = con.execute(
            """
            select i.kind, i.column,
                   r.kwh, r.customer_id, r.read_date, r.read_quality
            from injected i
            join raw.meter_reads_daily r
              on r._source_file = i.source_file and r._source_row = i.source_row
            where i.table = 'meter_reads_daily'
            """
        ).df()
        extract_end = con.execute(
            "select max(read_date) from raw.meter_reads_daily where read_date <= date '2026-10-31'"
        ).fetchone()[0]
    assert len(found) == (rows.column("table").to_pylist().count("meter_reads_daily"))
    by_kind = dict(tuple(found.groupby("kind")))
    assert (by_kind["negative_kwh"]["kwh"] < 0).all()
    assert by_kind["null_keys"]["customer_id"].isna().all()
    assert by_kind["orphan_customer_ids"]["customer_id"].str.startswith("CO").all()
    assert (by_kind["dates_out_of_range"]["read_date"].dt.date > extract_end).all()
    assert (by_kind["unknown_codes"]["read_quality"] == UNKNOWN_CODE).all()


def test_master_tables_get_corrupted_copies_not_corrupted_rows(injected, tmp_path):
    clean_dir = tmp_path / "clean"
    simulate(clean_dir, customers=CUSTOMERS, months=MONTHS, seed=SEED, progress=False)
    clean, dirty = _raw(clean_dir, "customers"), _raw(injected, "customers")
    # every clean account is still there, unchanged; the defects are extra rows
    merged = clean.merge(dirty, how="left", indicator=True)
    assert (merged["_merge"] == "both").all()
    assert len(dirty) > len(clean)


def test_schema_kinds_break_the_extract_by_name(tmp_path):
    plan = DefectPlan(
        drop_columns=(("bills", "due_date"),),
        rename_columns=(("payments", "paid_at", "paid_time"),),
        empty_tables=("inspections",),
    )
    simulate(tmp_path, customers=CUSTOMERS, months=MONTHS, seed=SEED, progress=False, defects=plan)
    assert "due_date" not in pq.read_schema(next((tmp_path / "raw/bills").glob("*.parquet"))).names
    assert len(_raw(tmp_path, "inspections")) == 0
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        with pytest.raises(LandingError, match="'bills' is missing required column.s. due_date"):
            load_landing(tmp_path / "raw", con, tables=("bills",))
        with pytest.raises(LandingError, match="'paid_time' looks like a renamed 'paid_at'"):
            load_landing(tmp_path / "raw", con, tables=("payments",))
        loaded = load_landing(tmp_path / "raw", con, tables=("inspections",))
    assert loaded["inspections"].is_empty


def test_cli_options_make_the_plan():
    args = build_parser().parse_args(
        [
            "simulate",
            "--defects",
            "0.01",
            "--defect",
            "duplicates=0.05",
            "--defect-tables",
            "bills,payments",
            "--drop-column",
            "bills.due_date",
            "--rename-column",
            "payments.channel=pay_channel",
            "--empty-table",
            "outages",
        ]
    )
    plan = defect_plan(args)
    assert plan.rates["duplicates"] == 0.05 and plan.rates["null_keys"] == 0.01
    assert plan.tables == ("bills", "payments")
    assert plan.drop_columns == (("bills", "due_date"),)
    assert plan.rename_columns == (("payments", "channel", "pay_channel"),)
    assert plan.empty_tables == ("outages",)
    assert defect_plan(build_parser().parse_args(["simulate"])) is None
    for bad in (
        ["--defect", "gremlins=0.1"],
        ["--drop-column", "bills"],
        ["--drop-column", "bills.nope"],
    ):
        with pytest.raises((ValueError, KeyError)):
            defect_plan(build_parser().parse_args(["simulate", *bad]))
