"""Each kind of defect fails the right expectation, with the right observed count, offending keys
and severity: within the row tolerance (0.5 %) a warning, beyond it an error.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from powerseg.contract import TABLES
from powerseg.quality import (
    ERROR,
    WARNING,
    QualityPolicy,
    Reference,
    failures_markdown,
    type_compatibility,
    validate_raw,
    validate_table,
)
from tests.quality.conftest import EXTRACT_END

READS = TABLES["meter_reads_daily"]  # 2000 rows: 1 row = 0.05 %
CUSTOMERS = TABLES["customers"]  # 200 rows: 1 row = 0.5 %
WORK_ORDERS = TABLES["work_orders"]  # 400 rows: 1 row = 0.25 %
READS_FILE = "meter_reads_daily/part-0.parquet"


def only_failure(result, prefix):
    """The one failed expectation, after asserting nothing else failed."""
    assert len(result.failures) == 1, [(f.name, f.observed) for f in result.failures]
    return result.failure(prefix)


def test_clean_extract_passes_every_expectation(clean_warehouse):
    results = validate_raw(clean_warehouse)
    assert set(results) == set(TABLES)
    for result in results.values():
        assert result.passed, failures_markdown(result)
        assert result.severity is None
        assert result.extract_end == EXTRACT_END
    names = {e.name for r in results.values() for e in r.expectations}
    for expected in (
        "expect_table_row_count_to_be_between(min=1)",
        "expect_column_to_exist(kwh)",
        "expect_column_values_to_not_be_null(customer_id)",
        "expect_column_values_to_be_unique(payment_id)",
        "expect_compound_columns_to_be_unique(customer_id, read_date)",
        "expect_compound_columns_to_be_unique(customer_id, occurred_at, channel, action)",
        "expect_column_values_to_be_in_set(read_quality, [actual, estimated, missing])",
        "expect_column_values_to_be_between(kwh, min=0)",
        "expect_column_values_to_be_between(satisfaction, min=1, max=5)",
        "expect_column_values_to_be_between(read_date, min=2000-01-01, max=2026-10-31)",
        "expect_column_max_to_be_between(read_date, min=2026-09-30)",
        "expect_column_values_to_be_in_set(customer_id, raw.customers.customer_id)",
        "expect_column_type_to_be_compatible(kwh, DOUBLE)",
    ):
        assert expected in names, expected
    reads = results["meter_reads_daily"]
    assert reads.row_count == 2000
    assert "expect_column_values_to_be_in_set(customer_id, raw.customers.customer_id)" not in {
        e.name for e in results["outages"].expectations
    }


def test_conflicting_duplicate_below_the_threshold_is_a_warning(defect):
    # the same customer and day delivered twice with different consumption
    path = defect(
        "INSERT INTO raw.meter_reads_daily SELECT * REPLACE (kwh + 1 AS kwh, 2001 AS _source_row) "
        "FROM raw.meter_reads_daily WHERE _source_row = 1"
    )
    result = validate_table(path, READS)
    failed = only_failure(result, "expect_compound_columns_to_be_unique(customer_id, read_date)")
    # every row of the conflicting key counts: the original and the other version
    assert failed.observed == {
        "unexpected_count": 2,
        "unexpected_percent": pytest.approx(100 * 2 / 2001, abs=1e-4),
        "element_count": 2001,
    }
    assert failed.severity == WARNING
    assert failed.sample == (
        {
            "customer_id": "C0000001",
            "read_date": "2026-10-31",
            "duplicate_rows": 2,
            "differing_columns": "kwh",
        },
    )
    assert not result.passed and result.severity == WARNING


def test_conflicting_duplicates_above_the_threshold_are_an_error(defect):
    path = defect(
        "INSERT INTO raw.meter_reads_daily SELECT * REPLACE (kwh + 1 AS kwh, "
        "_source_row + 5000 AS _source_row) FROM raw.meter_reads_daily WHERE _source_row <= 20"
    )
    failed = only_failure(validate_table(path, READS), "expect_compound_columns_to_be_unique")
    assert failed.observed["unexpected_count"] == 40
    assert failed.severity == ERROR  # 40 of 2,020 rows, above conflicting_duplicate_max_share
    assert len(failed.sample) == 10  # capped
    assert all(row["duplicate_rows"] == 2 for row in failed.sample)


def test_exact_duplicate_rows_only_warn_however_many(defect):
    # 20 rows delivered twice, identical in every column (another row number in the file)
    path = defect(
        "INSERT INTO raw.meter_reads_daily SELECT * REPLACE (_source_row + 5000 AS _source_row) "
        "FROM raw.meter_reads_daily WHERE _source_row <= 20"
    )
    result = validate_table(path, READS)
    failed = only_failure(result, "expect_no_exact_duplicate_rows")
    assert failed.observed["unexpected_count"] == 20
    assert failed.severity == WARNING and result.severity == WARNING
    assert "dropped and counted" in failed.note
    assert len(failed.sample) == 10 and all(row["copies"] == 2 for row in failed.sample)


def test_duplicate_single_key(defect):
    path = defect(
        "INSERT INTO raw.payments SELECT * REPLACE (amount + 1 AS amount) FROM raw.payments "
        "WHERE _source_row = 3"
    )
    failed = only_failure(
        validate_table(path, TABLES["payments"]), "expect_column_values_to_be_unique(payment_id)"
    )
    assert failed.observed["unexpected_count"] == 2
    assert failed.severity == WARNING  # 2 of 401 rows = 0.4988 %
    assert failed.sample == (
        {"payment_id": "PAY0000002", "duplicate_rows": 2, "differing_columns": "amount"},
    )


def test_null_key_below_tolerance_is_a_warning_with_lineage(defect):
    path = defect("UPDATE raw.meter_reads_daily SET customer_id = NULL WHERE _source_row = 5")
    failed = only_failure(
        validate_table(path, READS), "expect_column_values_to_not_be_null(customer_id)"
    )
    assert failed.observed["unexpected_count"] == 1
    assert failed.observed["unexpected_percent"] == 0.05
    assert failed.severity == WARNING
    assert failed.sample == (
        {
            "customer_id": None,
            "read_date": "2026-10-31",
            "_source_file": READS_FILE,
            "_source_row": 5,
        },
    )


def test_null_keys_above_tolerance_are_an_error(defect):
    path = defect("UPDATE raw.meter_reads_daily SET customer_id = NULL WHERE _source_row <= 30")
    result = validate_table(path, READS)
    failed = only_failure(result, "expect_column_values_to_not_be_null(customer_id)")
    assert failed.observed["unexpected_count"] == 30
    assert failed.severity == ERROR
    assert result.severity == ERROR


def test_tolerance_boundary_is_inclusive(defect):
    # 1 of 200 customers is exactly 0.5 %: still a warning; 2 of 200 is an error.
    one = defect("UPDATE raw.customers SET status = 'gone' WHERE _source_row = 1")
    failed = only_failure(validate_table(one, CUSTOMERS), "expect_column_values_to_be_in_set")
    assert (failed.observed["unexpected_percent"], failed.severity) == (0.5, WARNING)
    two = defect("UPDATE raw.customers SET status = 'gone' WHERE _source_row <= 2")
    failed = only_failure(validate_table(two, CUSTOMERS), "expect_column_values_to_be_in_set")
    assert (failed.observed["unexpected_percent"], failed.severity) == (1.0, ERROR)


def test_negative_kwh(defect):
    path = defect("UPDATE raw.meter_reads_daily SET kwh = -3.5 WHERE _source_row = 7")
    failed = only_failure(validate_table(path, READS), "expect_column_values_to_be_between(kwh")
    assert failed.name == "expect_column_values_to_be_between(kwh, min=0)"
    assert failed.observed["unexpected_count"] == 1
    assert failed.severity == WARNING
    assert failed.sample == (
        {
            "customer_id": "C0000007",
            "read_date": "2026-10-31",
            "kwh": -3.5,
            "_source_file": READS_FILE,
            "_source_row": 7,
        },
    )
    many = defect("UPDATE raw.meter_reads_daily SET kwh = -1 WHERE _source_row % 10 = 0")
    failed = only_failure(validate_table(many, READS), "expect_column_values_to_be_between(kwh")
    assert failed.observed["unexpected_count"] == 200
    assert failed.observed["unexpected_percent"] == 10.0
    assert failed.severity == ERROR


def test_row_tolerance_is_configurable(defect):
    path = defect("UPDATE raw.meter_reads_daily SET kwh = -3.5 WHERE _source_row = 7")
    strict = validate_table(path, READS, policy=QualityPolicy(row_tolerance=0.0))
    assert strict.failure("expect_column_values_to_be_between(kwh").severity == ERROR


def test_out_of_range_satisfaction(defect):
    path = defect("UPDATE raw.work_orders SET satisfaction = 9 WHERE _source_row = 4")
    failed = only_failure(
        validate_table(path, WORK_ORDERS),
        "expect_column_values_to_be_between(satisfaction, min=1, max=5)",
    )
    assert failed.observed["unexpected_count"] == 1
    assert failed.sample[0]["ticket_id"] == "TIC0000003"
    assert failed.sample[0]["satisfaction"] == 9


def test_orphan_customer_ids(defect):
    path = defect("UPDATE raw.work_orders SET customer_id = 'C9999999' WHERE _source_row = 3")
    failed = only_failure(
        validate_table(path, WORK_ORDERS),
        "expect_column_values_to_be_in_set(customer_id, raw.customers.customer_id)",
    )
    assert failed.observed["unexpected_count"] == 1
    assert failed.observed["element_count"] == 400
    assert failed.severity == WARNING
    assert failed.sample == (
        {
            "ticket_id": "TIC0000002",
            "customer_id": "C9999999",
            "_source_file": "work_orders/part-0.parquet",
            "_source_row": 3,
        },
    )
    many = defect(
        "UPDATE raw.work_orders SET customer_id = 'X' || customer_id WHERE _source_row <= 40"
    )
    failed = only_failure(validate_table(many, WORK_ORDERS), "expect_column_values_to_be_in_set")
    assert (failed.observed["unexpected_count"], failed.severity) == (40, ERROR)


def test_null_customer_id_is_not_an_orphan(defect):
    path = defect("UPDATE raw.work_orders SET customer_id = NULL WHERE _source_row = 3")
    result = validate_table(path, WORK_ORDERS)
    assert [f.name for f in result.failures] == ["expect_column_values_to_not_be_null(customer_id)"]


def test_orphans_when_the_customer_master_is_missing(defect):
    path = defect("DROP TABLE raw.customers")
    failed = validate_table(path, WORK_ORDERS).failure("expect_column_values_to_be_in_set(cust")
    assert failed.severity == ERROR
    assert "raw.customers.customer_id does not exist" in failed.observed["observed_value"]


def test_timestamps_after_the_extract_end(defect):
    path = defect(
        "UPDATE raw.work_orders SET created_at = TIMESTAMP '2026-11-01 00:00:00' "
        "WHERE _source_row = 2",
        # The last second of the extract's last day is inside the window.
        "UPDATE raw.work_orders SET created_at = TIMESTAMP '2026-10-31 23:59:59' "
        "WHERE _source_row = 9",
    )
    result = validate_table(path, WORK_ORDERS, extract_end=EXTRACT_END)
    failed = only_failure(
        result, "expect_column_values_to_be_between(created_at, min=2000-01-01, max=2026-10-31)"
    )
    assert failed.observed["unexpected_count"] == 1
    assert failed.severity == WARNING
    assert failed.sample[0]["created_at"] == "2026-11-01T00:00:00"
    assert failed.sample[0]["ticket_id"] == "TIC0000001"


def test_dates_after_the_extract_end_above_tolerance(defect):
    path = defect(
        "UPDATE raw.meter_reads_daily SET read_date = DATE '2027-01-01' + _source_row::INT "
        "WHERE _source_row <= 30"
    )
    result = validate_table(path, READS, extract_end=EXTRACT_END)
    failed = only_failure(result, "expect_column_values_to_be_between(read_date")
    assert (failed.observed["unexpected_count"], failed.severity) == (30, ERROR)
    assert failed.sample[0]["read_date"] == "2027-01-02"


def test_dates_before_2000(defect):
    path = defect(
        "UPDATE raw.meter_reads_daily SET read_date = DATE '1999-12-31' WHERE _source_row = 3"
    )
    failed = only_failure(
        validate_table(path, READS), "expect_column_values_to_be_between(read_date"
    )
    assert failed.observed["unexpected_count"] == 1
    assert failed.sample[0]["read_date"] == "1999-12-31"


def test_extract_end_defaults_to_the_last_meter_read(defect):
    path = defect(
        "UPDATE raw.work_orders SET created_at = TIMESTAMP '2026-11-05 08:00:00' "
        "WHERE _source_row = 2"
    )
    result = validate_table(path, WORK_ORDERS)
    assert result.extract_end == EXTRACT_END
    assert (
        result.failure("expect_column_values_to_be_between(created_at").observed["unexpected_count"]
        == 1
    )


def test_stale_table_fails_freshness(clean_warehouse):
    later = EXTRACT_END + dt.timedelta(days=60)
    result = validate_table(clean_warehouse, READS, extract_end=later)
    failed = only_failure(result, "expect_column_max_to_be_between(read_date")
    assert failed.name == "expect_column_max_to_be_between(read_date, min=2026-11-29)"
    assert failed.observed == {"observed_value": "2026-10-31"}
    assert failed.severity == ERROR
    relaxed = QualityPolicy(freshness_days=90)
    assert validate_table(clean_warehouse, READS, extract_end=later, policy=relaxed).passed


def test_unknown_codes(defect):
    path = defect(
        "UPDATE raw.meter_reads_daily SET read_quality = 'guessed' WHERE _source_row IN (1, 2)"
    )
    failed = only_failure(
        validate_table(path, READS), "expect_column_values_to_be_in_set(read_quality"
    )
    assert failed.observed["unexpected_count"] == 2
    assert failed.severity == WARNING
    assert [row["read_quality"] for row in failed.sample] == ["guessed", "guessed"]
    assert [row["customer_id"] for row in failed.sample] == ["C0000001", "C0000002"]

    many = defect("UPDATE raw.customers SET customer_type = 'alien' WHERE _source_row <= 5")
    failed = only_failure(validate_table(many, CUSTOMERS), "expect_column_values_to_be_in_set")
    assert failed.name.startswith("expect_column_values_to_be_in_set(customer_type, [residential")
    assert (failed.observed["unexpected_count"], failed.severity) == (5, ERROR)
    assert [row["customer_id"] for row in failed.sample] == [f"C000000{i}" for i in range(1, 6)]


def test_present_but_empty_table_is_a_warning(defect):
    path = defect("DELETE FROM raw.inspections")
    result = validate_table(path, TABLES["inspections"])
    failed = only_failure(result, "expect_table_row_count_to_be_between(min=1)")
    assert failed.observed == {"observed_value": 0}
    assert (failed.severity, result.severity, result.row_count) == (WARNING, WARNING, 0)


def test_only_customers_and_bills_must_have_rows(defect):
    path = defect("DELETE FROM raw.bills", "DELETE FROM raw.meter_reads_daily")
    bills = validate_table(path, TABLES["bills"], extract_end=EXTRACT_END)
    failed = only_failure(bills, "expect_table_row_count_to_be_between(min=1)")
    assert (failed.observed["observed_value"], failed.severity) == (0, ERROR)
    # a source system without smart meters: the factors that need reads are skipped instead
    reads = validate_table(path, READS, extract_end=EXTRACT_END)
    failed = only_failure(reads, "expect_table_row_count_to_be_between(min=1)")
    assert failed.severity == WARNING


def test_missing_required_column_is_an_error(defect):
    path = defect("ALTER TABLE raw.meter_reads_daily DROP COLUMN read_quality")
    result = validate_table(path, READS)
    failed = only_failure(result, "expect_column_to_exist(read_quality)")
    assert failed.severity == ERROR
    # Nothing else is evaluated on a column that is not there.
    assert not any("read_quality" in e.name for e in result.expectations if e is not failed)


def test_missing_table_is_an_error(defect):
    path = defect("DROP TABLE raw.outages")
    result = validate_table(path, TABLES["outages"])
    failed = only_failure(result, "expect_table_to_exist(raw.outages)")
    assert (failed.severity, result.passed, result.row_count) == (ERROR, False, None)


def test_text_that_casts_warns_and_skips_value_checks(defect):
    # bills.amount delivered as text, three values that do not cast ("n/a", "12,5", "")
    path = defect(
        "ALTER TABLE raw.bills ALTER amount TYPE VARCHAR",
        "UPDATE raw.bills SET amount = 'n/a' WHERE _source_row = 5",
        "UPDATE raw.bills SET amount = '12,5' WHERE _source_row = 17",
        "UPDATE raw.bills SET amount = '' WHERE _source_row = 40",
    )
    lenient = QualityPolicy(uncastable_value_max_share=0.02)
    result = validate_table(path, TABLES["bills"], policy=lenient)
    failed = only_failure(result, "expect_column_type_to_be_compatible(amount, DOUBLE)")
    filled = failed.observed["filled_count"]
    assert failed.observed["uncastable_count"] == 2 and failed.severity == WARNING  # "" is empty
    # above the seed's share (0.5 %) the same delivery blocks
    strict = validate_table(path, TABLES["bills"])
    assert strict.failure("expect_column_type_to_be_compatible(amount").severity == ERROR
    assert failed.observed["uncastable_percent"] == pytest.approx(100 * 2 / filled, abs=1e-3)
    assert [row["amount"] for row in failed.sample] == ["n/a", "12,5"]
    assert "quarantined as unparseable:amount" in failed.note
    assert "expect_column_values_to_be_between(amount, min=0)" not in {
        e.name for e in result.expectations
    }


def test_text_that_does_not_cast_is_an_error(defect):
    path = defect(
        "ALTER TABLE raw.bills ALTER kwh TYPE VARCHAR",
        "UPDATE raw.bills SET kwh = 'about ' || kwh",
    )
    failed = only_failure(
        validate_table(path, TABLES["bills"]), "expect_column_type_to_be_compatible(kwh, DOUBLE)"
    )
    assert failed.severity == ERROR and failed.note.endswith("no value casts")
    assert failed.observed["uncastable_count"] == failed.observed["filled_count"] > 0


def test_type_compatibility():
    assert type_compatibility("DOUBLE", "BIGINT") is None
    assert type_compatibility("TIMESTAMP", "TIMESTAMP WITH TIME ZONE") is None
    assert type_compatibility("INTEGER", "DOUBLE") == WARNING
    assert type_compatibility("DATE", "TIMESTAMP_NS") == WARNING
    assert type_compatibility("DATE", "VARCHAR") == ERROR
    assert type_compatibility("VARCHAR", "BIGINT") == ERROR


def test_any_schema_and_table_name(defect):
    path = defect(
        "CREATE SCHEMA marts",
        "CREATE TABLE marts.bills_out AS SELECT * EXCLUDE (_source_file, _source_row) "
        "FROM raw.bills",
        "UPDATE marts.bills_out SET amount = -1 WHERE customer_id = 'C0000009'",
    )
    ref = Reference("customer_id", "raw", "customers", "customer_id")
    result = validate_table(
        path,
        TABLES["bills"],
        schema="marts",
        name="bills_out",
        extract_end=EXTRACT_END,
        references=[ref],
    )
    assert result.table == "marts.bills_out"
    failed = only_failure(result, "expect_column_values_to_be_between(amount, min=0)")
    assert failed.observed["unexpected_count"] == 2
    assert [row["customer_id"] for row in failed.sample] == ["C0000009", "C0000009"]
    assert set(failed.sample[0]) == {"customer_id", "bill_month", "amount"}


def test_validation_releases_the_warehouse_for_a_writer(defect):
    path = defect("UPDATE raw.meter_reads_daily SET kwh = -1 WHERE _source_row = 1")
    validate_table(path, READS)
    # A connection left open (pooled, or held by GE) would make this raise.
    with duckdb.connect(str(path)) as writer:
        writer.execute("CREATE TABLE raw.after_validation AS SELECT 1 AS x")


def test_failures_markdown_and_dict(defect):
    path = defect("UPDATE raw.meter_reads_daily SET kwh = -3.5 WHERE _source_row = 7")
    result = validate_table(path, READS)
    text = failures_markdown(result)
    assert "`expect_column_values_to_be_between(kwh, min=0)`" in text
    assert "1 of 2,000 rows (0.05 %)" in text
    assert "customer_id=C0000007, read_date=2026-10-31, kwh=-3.5" in text
    as_dict = result.to_dict()
    assert as_dict["severity"] == WARNING
    assert as_dict["failures"][0]["sample"][0]["_source_row"] == 7
