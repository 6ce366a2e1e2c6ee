"""A delivery with the defects utilities' systems really produce, rewritten by hand with pyarrow
into a small simulated extract: every row-level problem lands in quarantine with its reason and
the run goes on, saying what it dropped; table-level problems stop the run, every table's at once,
each failed expectation named with its column, what was observed and sample keys."""

from __future__ import annotations

import json
import shutil

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from powerseg.contract import MANIFEST_FILE
from tests.conftest import landing_env, powerseg_cli

pytestmark = pytest.mark.slow

MONTH = "2026-10"


@pytest.fixture(scope="module")
def clean_extract(tmp_path_factory):
    from simulator import simulate

    folder = tmp_path_factory.mktemp("defective_source")
    simulate(folder, customers=800, months=8, seed=3, progress=False)
    return folder / "raw"


def deliver(clean_raw, target, edit) -> None:
    """Copy the clean extract as a utility's delivery, let `edit(table -> pa.Table)` rewrite its
    tables, and write the manifest for what is there."""
    shutil.copytree(clean_raw, target)
    (target / ".powerseg-simulator.json").unlink(missing_ok=True)
    manifest = json.loads((target / MANIFEST_FILE).read_text())
    for key in ("seed", "producer", "customers"):
        manifest.pop(key, None)
    for table, entry in manifest["tables"].items():
        paths = [target / f for f in entry["files"]]
        new = edit(table, pa.concat_tables([pq.read_table(p) for p in paths]))
        if new is not None:  # one file for the rewritten table, as an export would deliver it
            for path in paths:
                path.unlink()
            pq.write_table(new, paths[0])
            entry["files"], entry["rows"] = [entry["files"][0]], new.num_rows
    (target / MANIFEST_FILE).write_text(json.dumps(manifest))


def replace(table: pa.Table, name: str, values) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, values)


def row_defects(table_name: str, t: pa.Table) -> pa.Table | None:
    if table_name == "customers":  # 20 rows delivered twice, identical
        return pa.concat_tables([t, t.slice(0, 20)])
    if table_name == "bills":
        # two bills delivered twice with another amount; amount as text, one value unreadable
        conflicting = t.slice(0, 2)
        conflicting = replace(conflicting, "amount", pc.add(conflicting["amount"], 10.0))
        t = pa.concat_tables([t, conflicting])
        amounts = [f"{v:.2f}" for v in t["amount"].to_pylist()]
        amounts[7] = "n/a"
        return replace(t, "amount", pa.array(amounts))
    if table_name == "meter_reads_daily":
        kwh = t["kwh"].to_pylist()
        kwh[3] = 1e12
        return replace(t, "kwh", pa.array(kwh, pa.float64()))
    if table_name in ("work_orders", "payments"):  # delivered with their UTC+8 offset
        column = "closed_at" if table_name == "work_orders" else "paid_at"
        local = t[column].cast(pa.timestamp("us"))
        aware = pc.assume_timezone(local, timezone="Asia/Shanghai")
        return replace(t, column, aware)
    if table_name == "satisfaction_surveys":
        perception = t["perception"].to_pylist()
        perception[0] = 9  # on a 1-7 scale
        return replace(t, "perception", pa.array(perception, t.schema.field("perception").type))
    return None


@pytest.fixture(scope="module")
def row_level_run(clean_extract, tmp_path_factory):
    folder = tmp_path_factory.mktemp("row_defects")
    deliver(clean_extract, folder / "raw", row_defects)
    (folder / "data").mkdir()
    env = landing_env(folder / "data", folder / "raw")
    return folder, powerseg_cli("run", "--as-of", MONTH, env=env)


def reasons(folder, table: str) -> dict[str, int]:
    with duckdb.connect(str(folder / "data" / "warehouse.duckdb"), read_only=True) as con:
        return dict(
            con.execute(f"select reason, count(*) from quarantine.q_{table} group by 1").fetchall()
        )


def test_row_level_problems_are_quarantined_and_the_run_goes_on(row_level_run, clean_extract):
    folder, result = row_level_run
    assert result.returncode == 0, result.stderr[-4000:]
    assert f"powerseg run succeeded for {MONTH}" in result.stdout
    assert reasons(folder, "customers") == {"exact_duplicate": 20}
    bills = reasons(folder, "bills")
    assert bills.get("conflicting_duplicate:amount") == 4  # both versions of both bills
    assert bills.get("unparseable:amount") == 1
    assert reasons(folder, "meter_reads_daily") == {"implausible:kwh>contracted_capacity*24h": 1}
    assert reasons(folder, "satisfaction_surveys") == {"out_of_range:perception>7": 1}
    with duckdb.connect(str(folder / "data" / "warehouse.duckdb"), read_only=True) as con:
        accounting = {
            row[0]: row[1:]
            for row in con.execute(
                "select table_name, raw_rows, staged_rows, quarantined_rows, duplicate_rows "
                "from quarantine.row_accounting"
            ).fetchall()
        }
        # +08:00 timestamps are the same local times as the clean delivery's, none quarantined
        orders = con.execute(
            "select count(*), min(closed_at) from staging.stg_raw__work_orders"
        ).fetchone()
    raw, staged, quarantined, duplicates = accounting["customers"]
    assert (raw - staged, quarantined, duplicates) == (20, 0, 20)
    assert reasons(folder, "work_orders") == {} and reasons(folder, "payments") == {}
    clean = pq.read_table(clean_extract / "work_orders").to_pandas()
    assert orders == (len(clean), clean["closed_at"].min().to_pydatetime())
    # what the run dropped and converted is said in its warnings
    err = result.stderr
    assert "raw.customers: expect_no_exact_duplicate_rows" not in err  # a warning, not a failure
    assert "closed_at delivered with a time zone, loaded as Asia/Shanghai local time" in err
    assert "paid_at delivered with a time zone" in err
    assert "check 'quality_gate' on raw/customers warned" in err


def table_defects(table_name: str, t: pa.Table) -> pa.Table | None:
    if table_name == "customers":  # 30 customers delivered twice with another district
        twice = replace(t.slice(0, 30), "district", pa.array(["elsewhere"] * 30))
        return pa.concat_tables([t, twice])
    if table_name == "bills":  # amounts as words: nothing casts
        return replace(t, "amount", pa.array(["about " + str(v) for v in t["amount"].to_pylist()]))
    return None


def test_table_level_problems_stop_the_run_naming_every_table_at_once(clean_extract, tmp_path):
    deliver(clean_extract, tmp_path / "raw", table_defects)
    (tmp_path / "data").mkdir()
    result = powerseg_cli(
        "run", "--as-of", MONTH, env=landing_env(tmp_path / "data", tmp_path / "raw")
    )
    assert result.returncode == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"powerseg run FAILED for {MONTH}")
    assert "the delivery in" in first and "has 2 problem(s) in 2 table(s)" in first
    err = result.stderr
    assert (
        "raw.customers.customer_id: expect_column_values_to_be_unique(customer_id) [error]" in err
    )
    assert "differing_columns=district" in err and "customer_id=C0000001" in err
    assert "raw.bills.amount: expect_column_type_to_be_compatible(amount, DOUBLE) [error]" in err
    assert "no value casts" in err
    assert "not run because of the failures above: " in err and "dbt_staging_models" in err
