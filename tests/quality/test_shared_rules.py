"""Rules the raw gate and dbt staging share, each defined once: the earliest plausible account
opening date (the contract's) and the extract-day coverage share (the thresholds seed's).
"""

from __future__ import annotations

import datetime as dt

import duckdb

from powerseg.contract import TABLES
from powerseg.quality import WARNING, extract_end_from_meter_reads, validate_table
from powerseg.quality import policy as quality_policy
from powerseg.quality_ge import warehouse_engine
from tests.dbt.conftest import DBT_DIR, run_dbt
from tests.quality.test_staging_property import STAGING_RUN


def test_an_account_opened_before_1950_is_flagged_by_the_gate_and_quarantined(defect, tmp_path):
    # One account before the earliest plausible date, one on it: both layers draw the line there.
    path = defect(
        "UPDATE raw.customers SET open_date = DATE '1920-05-01' WHERE customer_id = 'C0000007'",
        "UPDATE raw.customers SET open_date = DATE '1950-01-01' WHERE customer_id = 'C0000008'",
    )
    result = validate_table(path, TABLES["customers"])
    assert len(result.failures) == 1, [f.name for f in result.failures]
    failed = result.failure("expect_column_values_to_be_between(open_date")
    assert failed.name == (
        "expect_column_values_to_be_between(open_date, min=1950-01-01, max=2026-10-31)"
    )
    assert failed.severity == WARNING
    assert failed.observed["unexpected_count"] == 1
    assert [(row["customer_id"], row["open_date"]) for row in failed.sample] == [
        ("C0000007", "1920-05-01")
    ]

    build = run_dbt(STAGING_RUN, path, tmp_path)
    assert build.returncode == 0, build.stdout[-4000:]
    with duckdb.connect(str(path), read_only=True) as con:
        quarantined = con.execute(
            "select customer_id, reason from quarantine.q_customers order by customer_id"
        ).fetchall()
        staged = con.execute(
            "select customer_id, open_date from staging.stg_raw__customers "
            "where customer_id in ('C0000007', 'C0000008')"
        ).fetchall()
    assert quarantined == [("C0000007", "date_out_of_window:open_date")]
    assert staged == [("C0000008", dt.date(1950, 1, 1))]


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
