"""The simulator's defect injection end to end through the gates and staging: each kind fails the
raw gate's named expectation with the injected count, and every injected row lands in quarantine
with its reason while every other row is staged (dbt build of staging and quarantine).
"""

from __future__ import annotations

import duckdb
import pytest

from powerseg.contract import TABLE_NAMES
from powerseg.quality import ERROR, WARNING, validate_raw
from simulator import read_defects
from tests.dbt.conftest import run_dbt
from tests.quality.conftest import load_defective_extract

CUSTOMERS, MONTHS, SEED, RATE = 150, 4, 23, 0.002
ACCOUNTING_BUILD = [
    "build",
    "--select",
    "+assert_row_accounting_balances",
    "--indirect-selection",
    "cautious",
]


@pytest.fixture(scope="module")
def defective(tmp_path_factory):
    """A defective extract, loaded, with staging and quarantine built by dbt."""
    out = tmp_path_factory.mktemp("defective")
    warehouse = load_defective_extract(
        out, customers=CUSTOMERS, months=MONTHS, seed=SEED, rate=RATE
    )
    results = validate_raw(warehouse)
    build = run_dbt(ACCOUNTING_BUILD, warehouse, out / "dbt")
    summary, rows = read_defects(out)
    return {
        "out": out,
        "warehouse": warehouse,
        "gates": results,
        "dbt": build,
        "summary": summary,
        "rows": rows.to_pandas(),
    }


def expectation_for(kind: str, table: str, column: str | None) -> str:
    if kind == "duplicates":
        return "expect_no_exact_duplicate_rows"  # the injected copies repeat a row exactly
    if kind == "null_keys":
        return f"expect_column_values_to_not_be_null({column})"
    if kind == "negative_kwh":
        return "expect_column_values_to_be_between(kwh, min=0)"
    if kind == "orphan_customer_ids":
        return "expect_column_values_to_be_in_set(customer_id, raw.customers.customer_id)"
    if kind == "dates_out_of_range":
        return f"expect_column_values_to_be_between({column}, min="
    if kind == "unknown_codes":
        return f"expect_column_values_to_be_in_set({column}, ["
    raise KeyError(kind)


def test_each_injected_kind_fails_its_named_expectation(defective):
    rows = defective["rows"]
    counts = rows.groupby(["table", "kind", "column"], dropna=False).size()
    assert {k[1] for k in counts.index} == {
        "duplicates",
        "null_keys",
        "negative_kwh",
        "orphan_customer_ids",
        "dates_out_of_range",
        "unknown_codes",
    }
    for (table, kind, column), injected in counts.items():
        result = defective["gates"][table]
        prefix = expectation_for(kind, table, None if column != column else column)
        failed = result.failure(prefix)  # exactly one failure has this name
        observed = failed.observed["unexpected_count"]
        if kind == "duplicates":
            assert observed == injected and failed.severity == "warning", (table, kind)
        else:
            assert observed == injected, (table, kind, column)
        assert failed.sample, (table, kind)  # offending keys are shown


def test_severity_follows_the_share_of_bad_rows(defective):
    reads = defective["gates"]["meter_reads_daily"]
    # ~0.2 % of the daily reads per kind: within the tolerance, staging quarantines them
    assert reads.failure("expect_column_values_to_be_between(kwh, min=0)").severity == WARNING
    # one bad row among a handful of inspections is far beyond it
    inspections = defective["gates"]["inspections"]
    assert inspections.severity == ERROR


def test_every_injected_row_is_quarantined_with_its_reason(defective):
    assert defective["dbt"].returncode == 0, defective["dbt"].stdout[-4000:]
    union = " union all ".join(
        f"select '{t}' as table_name, _source_file, _source_row, reason from quarantine.q_{t}"
        for t in TABLE_NAMES
    )
    with duckdb.connect(str(defective["warehouse"]), read_only=True) as con:
        con.register("injected", defective["rows"])
        by_kind = con.execute(
            f"""
            with quarantined as ({union})
            select i.table, i.kind, count(*) as injected,
                   count(q.reason) filter (
                       where list_contains(string_split(q.reason, ';'), i.expected_reason)
                   ) as quarantined_with_reason
            from injected i
            left join quarantined q
              on q._source_file = i.source_file and q._source_row = i.source_row
            where i.kind <> 'duplicates'
            group by all
            """
        ).fetchall()
        assert by_kind and all(n == ok for _, _, n, ok in by_kind), by_kind
        # duplicates: one row of each duplicated key goes, the copy or the original
        accounting = {
            t: (raw, staged, quarantined, dups)
            for t, raw, staged, quarantined, dups in con.execute(
                "select table_name, raw_rows, staged_rows, quarantined_rows, duplicate_rows "
                "from quarantine.row_accounting"
            ).fetchall()
        }
    injected = defective["summary"]["rows_by_table"]
    for table, (raw, staged, quarantined, dups) in accounting.items():
        assert raw == staged + quarantined + dups, table
        assert dups == injected[table].get("duplicates", 0), table
        # the simulator's own rows are clean: nothing but the injected rows is quarantined
        bad = sum(n for kind, n in injected[table].items() if kind != "duplicates")
        assert quarantined == bad, table
