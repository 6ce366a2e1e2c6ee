"""The raw gate's set-based passes judge a table exactly as the Great Expectations runner does:
the same outcomes (counts, severities, samples, notes) on a defective extract and planted rows.
"""

from __future__ import annotations

import pytest

from powerseg.contract import TABLE_NAMES, TABLES
from powerseg.quality import ERROR, WARNING, QualityPolicy, validate_table
from powerseg.quality import raw as raw_gate
from tests.quality.conftest import load_defective_extract

# Set-based above zero rows, or never (the GE runner).
SET_BASED = QualityPolicy(set_based_min_rows=0)
GE_ONLY = QualityPolicy(set_based_min_rows=10**12)

# Defects the simulator does not inject: conflicting and null-part keys, NaN, a table whose
# time column is empty (no newest value to be fresh).
PLANTED = (
    "INSERT INTO raw.meter_reads_daily SELECT * REPLACE (kwh + 1 AS kwh) "
    "FROM raw.meter_reads_daily ORDER BY customer_id, read_date LIMIT 3",
    "INSERT INTO raw.meter_reads_daily SELECT * REPLACE (NULL AS customer_id) "
    "FROM raw.meter_reads_daily ORDER BY customer_id, read_date LIMIT 4",
    "INSERT INTO raw.meter_reads_daily SELECT * REPLACE (NULL AS customer_id) "
    "FROM raw.meter_reads_daily ORDER BY customer_id, read_date LIMIT 4",
    # copies with no read date: rows of a key with a null part, repeated exactly
    "INSERT INTO raw.meter_reads_daily SELECT * REPLACE (NULL AS read_date) "
    "FROM raw.meter_reads_daily ORDER BY customer_id DESC, read_date LIMIT 2",
    "INSERT INTO raw.meter_reads_daily SELECT * REPLACE (NULL AS read_date) "
    "FROM raw.meter_reads_daily ORDER BY customer_id DESC, read_date LIMIT 2",
    "UPDATE raw.meter_reads_daily SET max_demand_kw = 'nan'::DOUBLE "
    "WHERE customer_id = (SELECT min(customer_id) FROM raw.meter_reads_daily)",
    "UPDATE raw.inspections SET inspected_on = NULL",
)


@pytest.fixture(scope="module")
def defective_warehouse(tmp_path_factory):
    return load_defective_extract(
        tmp_path_factory.mktemp("set_based"),
        customers=120,
        months=3,
        seed=31,
        rate=0.004,
        planted=PLANTED,
    )


def both_paths(warehouse, name: str, monkeypatch) -> tuple[list[dict], list[dict]]:
    """Each path's outcomes; the set-based run fails if it fell back to the GE runner."""
    ge = validate_table(warehouse, TABLES[name], policy=GE_ONLY)
    with monkeypatch.context() as patched:

        def no_ge(*_args, **_kwargs):
            raise AssertionError("the set-based gate fell back to Great Expectations")

        patched.setattr(raw_gate, "_run_ge", no_ge)
        sql = validate_table(warehouse, TABLES[name], policy=SET_BASED)
    assert (ge.passed, ge.severity, ge.row_count) == (sql.passed, sql.severity, sql.row_count)
    return [o.to_dict() for o in ge.expectations], [o.to_dict() for o in sql.expectations]


@pytest.mark.parametrize("name", TABLE_NAMES)
def test_set_based_outcomes_equal_great_expectations(defective_warehouse, name, monkeypatch):
    ge, sql = both_paths(defective_warehouse, name, monkeypatch)
    assert sql == ge


def test_planted_meter_read_defects_have_their_exact_counts(defective_warehouse, monkeypatch):
    _ge, sql = both_paths(defective_warehouse, "meter_reads_daily", monkeypatch)
    by_name = {o["name"]: o for o in sql}
    unique = by_name["expect_compound_columns_to_be_unique(customer_id, read_date)"]
    # Three keys hold a second, different row: six rows conflict. The null-customer copies
    # never count as duplicates of each other (a key with a null part is no key).
    assert unique["observed"]["unexpected_count"] == 6
    assert unique["severity"] in (ERROR, WARNING)
    copies = by_name["expect_no_exact_duplicate_rows"]["observed"]["unexpected_count"]
    assert copies >= 6  # the second null-customer and null-date batches repeat the first
    nulls = by_name["expect_column_values_to_not_be_null(customer_id)"]
    assert nulls["observed"]["unexpected_count"] >= 8


def test_daily_keys_are_grouped_by_month_with_a_bit_per_day():
    from powerseg.quality.setbased import _day_key

    daily = {"customer_id": "VARCHAR", "read_date": "DATE", "kwh": "DOUBLE"}
    assert _day_key(daily, ("customer_id", "read_date")) == "read_date"
    # a read date delivered as text, or a key of the date alone, takes the general pass
    assert _day_key(daily | {"read_date": "VARCHAR"}, ("customer_id", "read_date")) is None
    assert _day_key(daily, ("read_date",)) is None


def test_empty_time_column_is_not_fresh(defective_warehouse, monkeypatch):
    _ge, sql = both_paths(defective_warehouse, "inspections", monkeypatch)
    fresh = next(o for o in sql if o["name"].startswith("expect_column_max_to_be_between"))
    assert fresh["success"] is False
    assert fresh["observed"] == {"observed_value": None}
