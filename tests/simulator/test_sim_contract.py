"""The simulated extract honours the source contract: files, manifest, types, keys, values, links.

These are the promises the landing loader and staging rely on for a clean (defect-free) extract.
"""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from powerseg.contract import MANIFEST_FILE, TABLE_NAMES, TABLES, arrow_types
from simulator import TRUTH_FILE

from .conftest import CUSTOMERS, MONTHS, SEED

ARROW_TYPES = arrow_types()

# Rows that must not exist in a clean extract: what would be wrong -> FROM/WHERE clause.
MUST_BE_EMPTY = {
    "customer without topology": "customers ANTI JOIN supply_topology USING (customer_id)",
    "outage with both or neither of feeder and transformer": (
        "outages WHERE (feeder_id IS NULL) = (transformer_id IS NULL)"
    ),
    "outage on an unknown feeder": (
        "outages WHERE feeder_id NOT IN (SELECT feeder_id FROM supply_topology)"
    ),
    "outage on an unknown transformer": (
        "outages WHERE transformer_id NOT IN (SELECT transformer_id FROM supply_topology)"
    ),
    "transformer on two feeders": (
        "(SELECT transformer_id FROM supply_topology GROUP BY 1"
        " HAVING count(DISTINCT feeder_id) > 1)"
    ),
    "outage ending before it starts": "outages WHERE end_at <= start_at",
    "payment for no bill": "payments ANTI JOIN bills USING (customer_id, bill_month)",
    "bill overpaid, paid in more than two parts, or paid before the month ended": """
        bills b JOIN (
            SELECT customer_id, bill_month, sum(amount) paid, min(paid_at) first_paid,
                   count(*) parts
            FROM payments GROUP BY ALL
        ) p USING (customer_id, bill_month)
        WHERE p.paid > b.amount + 0.005 OR p.parts > 2
           OR p.first_paid < b.bill_month + INTERVAL 1 MONTH
    """,
    "bill not due on the 20th of the next month": (
        "bills WHERE due_date <> bill_month + INTERVAL 1 MONTH + INTERVAL 19 DAY"
    ),
    "ticket closed before it was opened": "work_orders WHERE closed_at <= created_at",
    "read before the account opened": (
        "meter_reads_daily JOIN customers USING (customer_id) WHERE read_date < open_date"
    ),
    "kWh null other than on a missing read": (
        "meter_reads_daily WHERE (kwh IS NULL) <> (read_quality = 'missing')"
        " OR (max_demand_kw IS NULL) <> (kwh IS NULL)"
    ),
    "finding amounts on a normal inspection, or missing on a positive one": (
        "inspections WHERE (result = 'normal') <> (recovered_kwh IS NULL)"
        " OR (recovered_kwh IS NULL) <> (penalty_amount IS NULL)"
    ),
    "truth row for an unknown customer": "truth ANTI JOIN customers USING (customer_id)",
    "thief flag disagreeing with the theft start": (
        "truth WHERE is_thief <> (theft_start_month IS NOT NULL)"
    ),
    "trait outside 0..1 or tier outside 1..5": (
        "truth WHERE value_tier NOT BETWEEN 1 AND 5 OR outage_sensitivity NOT BETWEEN 0 AND 1"
        " OR financial_stress NOT BETWEEN 0 AND 1 OR digital_affinity NOT BETWEEN 0 AND 1"
        " OR theft_propensity NOT BETWEEN 0 AND 1"
    ),
}


def one(db, sql: str):
    return db.execute(sql).fetchone()[0]


def test_manifest_describes_the_extract(extract):
    manifest = json.loads((extract.raw / MANIFEST_FILE).read_text())
    assert manifest == extract.manifest
    assert manifest["extract_start"] == "2025-08-01"  # 15 months ending 2026-10
    assert manifest["extract_end"] == "2026-10-31"
    assert (manifest["seed"], manifest["customers"]) == (SEED, CUSTOMERS)
    assert list(manifest["tables"]) == list(TABLE_NAMES)
    for table, entry in manifest["tables"].items():
        on_disk = sorted(
            p.relative_to(extract.raw).as_posix() for p in (extract.raw / table).iterdir()
        )
        assert on_disk == sorted(entry["files"]), table
        rows = sum(pq.ParquetFile(extract.raw / f).metadata.num_rows for f in entry["files"])
        assert rows == entry["rows"], table
    reads = manifest["tables"]["meter_reads_daily"]["files"]
    assert len(reads) == MONTHS
    assert reads[0] == "meter_reads_daily/2025-08.parquet"
    assert reads[-1] == "meter_reads_daily/2026-10.parquet"


def test_manifest_is_written_last(extract):
    manifest_time = (extract.raw / MANIFEST_FILE).stat().st_mtime_ns
    written = [p.stat().st_mtime_ns for p in extract.root.rglob("*.parquet")]
    assert written and max(written) <= manifest_time


@pytest.mark.parametrize("table", TABLE_NAMES)
def test_schema_is_the_contract(extract, table):
    schema = pq.read_schema(next((extract.raw / table).glob("*.parquet")))
    expected = [(c.name, ARROW_TYPES[c.dtype]) for c in TABLES[table].columns]
    assert [(f.name, f.type) for f in schema] == expected


@pytest.mark.parametrize("table", TABLE_NAMES)
def test_keys_are_unique_and_required_columns_filled(db, table):
    spec = TABLES[table]
    rows = one(db, f"SELECT count(*) FROM {table}")
    assert rows > 0
    assert (
        one(db, f"SELECT count(*) FROM (SELECT DISTINCT {', '.join(spec.key)} FROM {table})")
        == rows
    )
    for col in spec.columns:
        if not col.nullable:
            assert one(db, f"SELECT count(*) FROM {table} WHERE {col.name} IS NULL") == 0, col.name


@pytest.mark.parametrize("table", TABLE_NAMES)
def test_values_are_allowed_and_in_range(db, table):
    for col in TABLES[table].columns:
        if col.allowed:
            seen = {r[0] for r in db.execute(f"SELECT DISTINCT {col.name} FROM {table}").fetchall()}
            assert seen <= set(col.allowed) | {None}, (col.name, seen - set(col.allowed))
        low, high = db.execute(f"SELECT min({col.name}), max({col.name}) FROM {table}").fetchone()
        if col.minimum is not None:
            assert low is None or low >= col.minimum, col.name
        if col.maximum is not None:
            assert high is None or high <= col.maximum, col.name


@pytest.mark.parametrize("table", [t for t in TABLE_NAMES if TABLES[t].references_customers])
def test_every_customer_reference_exists(db, table):
    assert one(db, f"SELECT count(*) FROM {table} ANTI JOIN customers USING (customer_id)") == 0


@pytest.mark.parametrize("what", MUST_BE_EMPTY)
def test_clean_extract_has_no(db, what):
    assert one(db, f"SELECT count(*) FROM {MUST_BE_EMPTY[what]}") == 0


def test_times_fall_inside_the_extract(db, extract):
    start, end = extract.manifest["extract_start"], extract.manifest["extract_end"]
    for table in TABLE_NAMES:
        col = TABLES[table].time_column
        if col is None or table == "customers":
            continue
        low, high = db.execute(f"SELECT min({col}), max({col}) FROM {table}").fetchone()
        assert str(low)[:10] >= start and str(high)[:10] <= end, (table, low, high)
    assert str(one(db, "SELECT max(open_date) FROM customers")) <= end


def test_bills_are_the_register_difference_of_the_reads(db):
    # With no estimated or missing day the month's reads add up to the billed kWh (whole kWh).
    worst = one(
        db,
        """
        SELECT max(abs(b.kwh - r.kwh)) FROM bills b JOIN (
            SELECT customer_id, date_trunc('month', read_date) bill_month, sum(kwh) kwh
            FROM meter_reads_daily GROUP BY ALL
            HAVING bool_and(read_quality = 'actual')
        ) r USING (customer_id, bill_month)
        """,
    )
    assert worst <= 0.5 + 1e-6


def test_read_gaps_are_realistic(db):
    shares = dict(
        db.execute(
            "SELECT read_quality, count(*) / sum(count(*)) OVER () FROM meter_reads_daily "
            "GROUP BY 1"
        ).fetchall()
    )
    assert 0.01 <= shares["estimated"] <= 0.02
    assert 0.005 <= shares["missing"] <= 0.01


def test_truth_file_has_one_row_per_customer(db, extract):
    assert (extract.root / TRUTH_FILE).exists()
    assert one(db, "SELECT count(DISTINCT customer_id) FROM truth") == CUSTOMERS
    assert one(db, "SELECT count(DISTINCT true_segment) FROM truth") == 6
