"""Rules the raw gate and dbt staging share, each defined once: the earliest plausible dates (the
contract's) and the extract-day coverage share (the thresholds seed's).
"""

from __future__ import annotations

import csv
import datetime as dt
import re

import duckdb
import pytest

from powerseg.contract import TABLES
from powerseg.quality import WARNING, extract_end_from_meter_reads, validate_table
from powerseg.quality import policy as quality_policy
from powerseg.quality_ge import warehouse_engine
from tests.dbt.conftest import DBT_DIR, run_dbt
from tests.quality.conftest import EXTRACT_END
from tests.quality.test_staging_property import STAGING_RUN


@pytest.mark.parametrize(
    ("table", "column", "before", "earliest"),
    [
        # an account opened before the contract's earliest plausible opening date
        ("customers", "open_date", "1920-05-01", "1950-01-01"),
        # an event before the contract's earliest plausible event date
        ("meter_reads_daily", "read_date", "1999-12-31", "2000-01-01"),
    ],
)
def test_an_implausibly_early_date_is_flagged_by_the_gate_and_quarantined_by_staging(
    defect, tmp_path, table, column, before, earliest
):
    # Row 7 before the earliest plausible date, row 8 on it: both layers draw the line there.
    path = defect(
        f"UPDATE raw.{table} SET {column} = DATE '{before}' WHERE _source_row = 7",
        f"UPDATE raw.{table} SET {column} = DATE '{earliest}' WHERE _source_row = 8",
    )
    result = validate_table(path, TABLES[table])
    assert len(result.failures) == 1, [f.name for f in result.failures]
    failed = result.failure(f"expect_column_values_to_be_between({column}")
    assert failed.name == (
        f"expect_column_values_to_be_between({column}, min={earliest}, max={EXTRACT_END})"
    )
    assert failed.severity == WARNING
    assert [(row["_source_row"], row[column]) for row in failed.sample] == [(7, before)]

    build = run_dbt(STAGING_RUN, path, tmp_path)
    assert build.returncode == 0, build.stdout[-4000:]
    with duckdb.connect(str(path), read_only=True) as con:
        quarantined = con.execute(
            f"select _source_row, reason from quarantine.q_{table} where _source_row in (7, 8)"
        ).fetchall()
        staged = con.execute(
            f"select _source_row, {column} from staging.stg_raw__{table} "
            "where _source_row in (7, 8)"
        ).fetchall()
    assert quarantined == [(7, f"date_out_of_window:{column}")]
    assert staged == [(8, dt.date.fromisoformat(earliest))]


def test_the_extract_end_follows_the_seeds_day_coverage_share(tmp_path, monkeypatch):
    # Ten reads on 29 and 30 October, four on the 31st: the 31st is covered at a share of 0.3
    # of the busiest day, not at 0.5.
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA raw")
        con.execute(
            "CREATE TABLE raw.meter_reads_daily AS SELECT 'C' || i AS customer_id, "
            "DATE '2026-10-29' + CAST(i // 10 AS INTEGER) AS read_date FROM range(24) AS t(i)"
        )
    seed_text = quality_policy.THRESHOLDS_SEED.read_text(encoding="utf-8")
    assert "\nextract_day_coverage_share," in seed_text
    for share, extract_end in (("0.5", dt.date(2026, 10, 30)), ("0.3", dt.date(2026, 10, 31))):
        seed = tmp_path / f"thresholds_{share}.csv"
        seed.write_text(
            "\n".join(
                f"extract_day_coverage_share,{share},share,"
                if line.startswith("extract_day_coverage_share,")
                else line
                for line in seed_text.splitlines()
            ),
            encoding="utf-8",
        )
        monkeypatch.setattr(quality_policy, "THRESHOLDS_SEED", seed)
        with warehouse_engine(path) as (_engine, conn):
            assert extract_end_from_meter_reads(conn) == extract_end
    # dbt's extract window reads the same row of the seed.
    window_sql = DBT_DIR / "models" / "staging" / "stg_raw__extract_window.sql"
    assert "threshold('extract_day_coverage_share')" in window_sql.read_text()


def test_the_tenure_band_label_uses_the_thresholds_seed_cut_offs():
    """The portrait's tenure band and dbt's `tenure_band` column cut at the same months."""
    with (DBT_DIR / "seeds" / "label_registry.csv").open(encoding="utf-8") as handle:
        rule = next(r["rule"] for r in csv.DictReader(handle) if r["code"] == "tenure_band")
    cuts = [float(v) for v in re.search(r"\[([\d.,\s]+)\]", rule).group(1).split(",")]
    assert cuts == [
        quality_policy.seed_threshold("tenure_new_max_months"),
        quality_policy.seed_threshold("tenure_established_max_months"),
        quality_policy.seed_threshold("tenure_long_max_months"),
    ], "label_registry.csv tenure_band and thresholds.csv tenure_* disagree"
