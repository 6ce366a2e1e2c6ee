"""The mart and output gates on a small synthetic warehouse: a clean one passes, each planted
defect fails the named expectation with the offending keys, a skipped factor only warns, and an
ERROR stops what is downstream in Dagster.
"""

from __future__ import annotations

import shutil

import dagster as dg
import duckdb
import pytest

from orchestration.checks.mart_gates import build_relation_gate, mart_gate_checks, score_spec
from orchestration.resources import WarehouseResource
from powerseg.quality import ERROR, MART_SPECS, WARNING, validate_relation

MONTHS = ("2026-09-01", "2026-10-01")
N = 50


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    path = tmp_path_factory.mktemp("marts") / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        for schema in ("intermediate", "marts", "scores"):
            con.execute(f"create schema {schema}")
        con.execute(
            f"""
            create table intermediate.int_active_customers_spined as
            select printf('C%07d', i) as customer_id, cast(m as date) as as_of_month
            from range(1, {N + 1}) t(i), unnest({list(MONTHS)}) u(m)
            """
        )
        con.execute(
            """
            create table marts.customer_360 as
            select customer_id, as_of_month, 'residential' as customer_type,
                   10.0 as contracted_capacity_kva, 12 as tenure_months, 0.9 as digital_share_12m,
                   cast(null as integer) as households
            from intermediate.int_active_customers_spined
            """
        )
        con.execute(
            """
            create table marts.fct_features_arrears as
            select customer_id, as_of_month, 12 as bills_12m, 0.25::double as late_payment_rate_12m,
                   3.5::double as avg_days_late_12m
            from marts.customer_360
            """
        )
        con.execute(
            """
            create table scores.arrears_scores as
            select customer_id, cast(as_of_month as timestamp) as as_of_month,
                   0.3::double as probability,
                   30.0::double as score, 'low' as tier, 'late payments' as reason_1,
                   cast(null as varchar) as reason_2, cast(null as varchar) as reason_3,
                   'powerseg_arrears' as model_name, '1' as model_version
            from marts.customer_360 where as_of_month = date '2026-10-01'
            """
        )
    return path


@pytest.fixture
def plant(synthetic, tmp_path):
    def _plant(*sql: str):
        path = tmp_path / "warehouse.duckdb"
        shutil.copy(synthetic, path)
        with duckdb.connect(str(path)) as con:
            for statement in sql:
                con.execute(statement)
        return path

    return _plant


ARREARS_MART = MART_SPECS["fct_features_arrears"]
ARREARS_SCORES = score_spec("arrears")


def test_clean_marts_and_outputs_pass(synthetic):
    for spec in (MART_SPECS["customer_360"], ARREARS_MART, ARREARS_SCORES):
        result = validate_relation(synthetic, spec)
        assert result.passed, result.failures
    scores = validate_relation(synthetic, ARREARS_SCORES)
    assert scores.row_count == N  # the scored month only
    assert str(scores.extract_end) == "2026-10-01"


def test_months_an_earlier_run_built_are_outside_this_runs_spine(plant):
    # an incremental customer_360 keeps 2026-08 from an earlier run; this run's spine starts later
    path = plant(
        "insert into marts.customer_360 select * replace (date '2026-08-01' as as_of_month) "
        "from marts.customer_360 where as_of_month = date '2026-09-01'"
    )
    assert validate_relation(path, MART_SPECS["customer_360"]).passed
    inactive = plant(
        "insert into marts.customer_360 select * replace ('C9999999' as customer_id) "
        "from marts.customer_360 where customer_id = 'C0000001'"
    )
    result = validate_relation(inactive, MART_SPECS["customer_360"])
    assert not result.passed


def test_duplicate_customer_month(plant):
    path = plant(
        "insert into marts.fct_features_arrears select * from marts.fct_features_arrears "
        "where customer_id = 'C0000003' and as_of_month = date '2026-09-01'"
    )
    result = validate_relation(path, ARREARS_MART)
    failed = result.failure("expect_compound_columns_to_be_unique(customer_id, as_of_month)")
    assert failed.severity == ERROR and failed.observed["unexpected_count"] == 2
    assert failed.sample == (
        {"customer_id": "C0000003", "as_of_month": "2026-09-01", "rows_per_key": 2},
    )


def test_missing_and_extra_customers(plant):
    path = plant(
        "delete from marts.fct_features_arrears where customer_id = 'C0000007'",
        "insert into marts.fct_features_arrears values "
        "('CX0000001', date '2026-10-01', 1, 0.0, 0.0)",
    )
    result = validate_relation(path, ARREARS_MART)
    missing = result.failure("expect_no_unexpected_rows(active customers missing")
    assert missing.observed == {"observed_value": 2}  # both months
    assert [r["customer_id"] for r in missing.sample] == ["C0000007", "C0000007"]
    extra = result.failure("expect_no_unexpected_rows(rows for customers who are not active")
    assert extra.sample == ({"customer_id": "CX0000001", "as_of_month": "2026-10-01"},)


def test_null_feature_and_out_of_range_value(plant):
    path = plant(
        "update marts.fct_features_arrears set avg_days_late_12m = null "
        "where customer_id = 'C0000001'",
        "update marts.fct_features_arrears set late_payment_rate_12m = 1.5 "
        "where customer_id = 'C0000002' and as_of_month = date '2026-10-01'",
    )
    result = validate_relation(path, ARREARS_MART)
    nulls = result.failure("expect_column_values_to_not_be_null(avg_days_late_12m)")
    assert nulls.severity == ERROR and nulls.observed["unexpected_count"] == 2
    rate = result.failure("expect_column_values_to_be_between(late_payment_rate_12m, min=0, max=1)")
    assert rate.sample == (
        {"customer_id": "C0000002", "as_of_month": "2026-10-01", "late_payment_rate_12m": 1.5},
    )


def test_output_scores_out_of_range_missing_or_twice(plant):
    path = plant(
        "update scores.arrears_scores set score = 130 where customer_id = 'C0000004'",
        "delete from scores.arrears_scores where customer_id = 'C0000005'",
        "insert into scores.arrears_scores select * from scores.arrears_scores "
        "where customer_id = 'C0000006'",
    )
    result = validate_relation(path, ARREARS_SCORES)
    assert result.severity == ERROR
    assert result.failure("expect_column_values_to_be_between(score, min=0, max=100)")
    assert result.failure("expect_no_unexpected_rows(active customers missing").sample[0] == {
        "customer_id": "C0000005",
        "as_of_month": "2026-10-01",
    }
    assert result.failure("expect_compound_columns_to_be_unique")


def test_an_earlier_month_does_not_count_against_the_scored_one(plant):
    path = plant(
        "insert into scores.arrears_scores select customer_id, "
        "timestamp '2026-09-01', probability, 500, tier, reason_1, reason_2, reason_3, "
        "model_name, model_version from scores.arrears_scores"
    )
    assert validate_relation(path, ARREARS_SCORES).passed


def test_a_skipped_factor_only_warns(plant):
    path = plant(
        "update scores.arrears_scores set score = null, probability = null, reason_1 = null, "
        "tier = 'not_scored', model_version = 'skipped'"
    )
    result = validate_relation(path, ARREARS_SCORES)
    assert result.severity == WARNING
    (failed,) = result.failures
    assert failed.name == "expect_column_values_to_not_be_null(score)"
    assert "skipped" in failed.note


def test_mart_error_stops_the_factor_model(plant):
    path = plant("update marts.fct_features_arrears set bills_12m = -1")

    @dg.asset(key=["marts", "fct_features_arrears"])
    def mart() -> None:
        return None

    @dg.asset(deps=[mart])
    def arrears_model() -> None:
        return None

    gate = next(
        c
        for c in mart_gate_checks
        if dg.AssetKey(["marts", "fct_features_arrears"]) in {s.asset_key for s in c.check_specs}
    )
    result = dg.materialize(
        [mart, gate, arrears_model],
        resources={"warehouse": WarehouseResource(path=str(path), lock_timeout_seconds=5)},
        raise_on_error=False,
    )
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert "expect_column_values_to_be_between(bills_12m" in (
        evaluation.metadata["failed_expectations"].value
    )
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert dg.AssetKey("arrears_model") not in materialized


def test_output_warning_lets_downstream_run(plant):
    path = plant("update scores.arrears_scores set score = null, tier = 'not_scored'")

    @dg.asset(key=["scores", "arrears_scores"])
    def scores() -> None:
        return None

    @dg.asset(deps=[scores])
    def segments() -> None:
        return None

    result = dg.materialize(
        [scores, build_relation_gate(ARREARS_SCORES, "test"), segments],
        resources={"warehouse": WarehouseResource(path=str(path), lock_timeout_seconds=5)},
        raise_on_error=False,
    )
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.severity == dg.AssetCheckSeverity.WARN and not evaluation.passed
    assert result.success
    assert dg.AssetKey("segments") in {
        e.asset_key for e in result.get_asset_materialization_events()
    }


def test_joined_scores_warn_for_a_skipped_factor_and_fail_for_a_partial_gap(tmp_path):
    from orchestration.checks.mart_gates import factor_scores_spec

    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute(
            """
            create table marts.customer_360 as
            select printf('C%07d', i) as customer_id, date '2026-10-01' as as_of_month
            from range(1, 21) t(i)
            """
        )
        con.execute(
            """
            create table marts.customer_factor_scores as
            select customer_id, cast(as_of_month as timestamp) as as_of_month,
                   50.0::double as arrears_score, cast(null as double) as inspection_score
            from marts.customer_360
            """
        )
    spec = factor_scores_spec(("arrears", "inspection"))
    skipped = validate_relation(path, spec)
    assert skipped.severity == WARNING
    assert [f.name for f in skipped.failures] == [
        "expect_column_values_to_not_be_null(inspection_score)"
    ]
    with duckdb.connect(str(path)) as con:
        con.execute(
            "update marts.customer_factor_scores set arrears_score = null "
            "where customer_id = 'C0000001'"
        )
    partial = validate_relation(path, spec)
    assert partial.severity == ERROR
    assert partial.failure("expect_column_values_to_not_be_null(arrears_score)").sample == (
        {"customer_id": "C0000001", "as_of_month": "2026-10-01T00:00:00"},
    )
