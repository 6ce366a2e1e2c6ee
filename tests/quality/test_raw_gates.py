"""The raw gates as Dagster runs them: an ERROR failure stops the downstream asset, a WARN result
lets it materialise, and the check's metadata alone explains the failure.
"""

from __future__ import annotations

import json
import shutil

import dagster as dg
import duckdb
import pytest

from orchestration.checks.raw_gates import (
    GATE_NAME,
    build_raw_gate,
    manifest_extract_end,
    raw_gate_checks,
)
from orchestration.resources import LandingResource, WarehouseResource
from powerseg.contract import TABLE_NAMES


def test_one_blocking_gate_per_raw_table():
    specs = [spec for check in raw_gate_checks for spec in check.check_specs]
    assert {spec.asset_key for spec in specs} == {dg.AssetKey(["raw", t]) for t in TABLE_NAMES}
    assert all(spec.blocking and spec.name == GATE_NAME for spec in specs)
    # No gate waits on another table: a failed customers gate does not keep the others from
    # running, so one run reports every problem of a delivery (the orphan check reads the
    # customer master, which is loaded in the same step).
    assert all(not spec.additional_deps for spec in specs)


def test_manifest_extract_end(tmp_path):
    assert manifest_extract_end(tmp_path) is None
    (tmp_path / "_manifest.json").write_text(json.dumps({"extract_end": "2026-10-31"}))
    assert str(manifest_extract_end(tmp_path)) == "2026-10-31"
    (tmp_path / "_manifest.json").write_text("{not json")
    assert manifest_extract_end(tmp_path) is None


def run_with_customers_defect(clean_warehouse, tmp_path, defect_sql: str):
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(clean_warehouse, path)

    @dg.asset(key=["raw", "customers"])
    def customers(warehouse: WarehouseResource) -> None:
        with warehouse.connect() as con:
            con.execute(defect_sql)

    @dg.asset(deps=[customers])
    def customer_scores() -> None:
        return None

    return dg.materialize(
        [customers, build_raw_gate("customers"), customer_scores],
        resources={
            "warehouse": WarehouseResource(path=str(path), lock_timeout_seconds=5),
            "landing": LandingResource(raw_dir=str(tmp_path / "raw"), truth_dir=str(tmp_path)),
        },
        raise_on_error=False,
    )


def materialized(result) -> set[dg.AssetKey]:
    return {e.asset_key for e in result.get_asset_materialization_events()}


def evaluation(result) -> dg.AssetCheckEvaluation:
    (event,) = result.get_asset_check_evaluations()
    return event


def test_error_stops_downstream(clean_warehouse, tmp_path):
    # 10 of 200 customers (5 %) with an unknown type: beyond the tolerance.
    result = run_with_customers_defect(
        clean_warehouse,
        tmp_path,
        "UPDATE raw.customers SET customer_type = 'alien' WHERE _source_row <= 10",
    )
    check = evaluation(result)
    assert not check.passed
    assert check.severity == dg.AssetCheckSeverity.ERROR
    assert not result.success
    assert materialized(result) == {dg.AssetKey(["raw", "customers"])}
    assert dg.AssetKey("customer_scores") not in materialized(result)

    table = check.metadata["failed_expectations"].value
    assert "`expect_column_values_to_be_in_set(customer_type, [residential" in table
    assert "10 of 200 rows (5 %)" in table
    assert "customer_id=C0000001" in table
    (failure,) = check.metadata["failures"].value
    assert failure["severity"] == "error"
    assert failure["observed"]["unexpected_count"] == 10
    assert len(failure["sample"]) == 10


def test_warning_lets_downstream_run(clean_warehouse, tmp_path):
    # 1 of 200 customers (0.5 %): within the tolerance, staging quarantines it.
    result = run_with_customers_defect(
        clean_warehouse,
        tmp_path,
        "UPDATE raw.customers SET customer_type = 'alien' WHERE _source_row = 1",
    )
    check = evaluation(result)
    assert not check.passed
    assert check.severity == dg.AssetCheckSeverity.WARN
    assert result.success
    assert dg.AssetKey("customer_scores") in materialized(result)
    assert "1 of 200 rows (0.5 %)" in check.metadata["failed_expectations"].value


def test_clean_table_passes_and_releases_the_warehouse(clean_warehouse, tmp_path):
    result = run_with_customers_defect(clean_warehouse, tmp_path, "SELECT 1")
    check = evaluation(result)
    assert check.passed and result.success
    assert check.metadata["failures"].value == []
    assert dg.AssetKey("customer_scores") in materialized(result)
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as writer:
        writer.execute("CREATE TABLE raw.after AS SELECT 1")


@pytest.mark.parametrize("table", ["meter_reads_daily", "inspections"])
def test_gate_config_overrides_policy(clean_warehouse, tmp_path, table):
    shutil.copy(clean_warehouse, tmp_path / "w.duckdb")

    @dg.asset(key=["raw", table])
    def raw_table() -> None:
        return None

    result = dg.materialize(
        [raw_table, build_raw_gate(table)],
        resources={
            "warehouse": WarehouseResource(path=str(tmp_path / "w.duckdb")),
            "landing": LandingResource(raw_dir=str(tmp_path), truth_dir=str(tmp_path)),
        },
        run_config={
            "ops": {
                f"raw__{table}_{GATE_NAME}": {
                    "config": {"extract_end": "2027-03-01", "freshness_days": 31}
                }
            }
        },
        raise_on_error=False,
    )
    check = evaluation(result)
    assert check.severity == dg.AssetCheckSeverity.ERROR and not check.passed
    assert check.metadata["extract_end"].value == "2027-03-01"
    (failure,) = check.metadata["failures"].value
    assert failure["name"].startswith("expect_column_max_to_be_between")
