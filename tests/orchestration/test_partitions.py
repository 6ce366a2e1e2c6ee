"""Monthly partitions: which assets are partitioned, the vars a range gives dbt, and a backfill
that leaves every month as running its months one by one does (every column exactly, doubles to
1e-6 relative)."""

import datetime as dt

import dagster as dg
import pytest

from orchestration.definitions import defs
from orchestration.partitions import (
    as_of_months,
    extract_month_window,
    history_months,
    history_start,
    key_of_month,
    month_of_key,
    month_vars,
    months_in_range,
)
from tests.conftest import (
    NEWEST_MONTH,
    PREVIOUS_MONTH,
    landing_env,
    month_contents,
    powerseg_cli,
)


def _partitions_by_key():
    graph = defs.resolve_asset_graph()
    return {key: graph.get(key).partitions_def for key in graph.materializable_asset_keys}


def test_month_bound_assets_are_partitioned_by_as_of_month_and_the_extract_is_not():
    partitions = _partitions_by_key()
    monthly = [k for k, p in partitions.items() if p is not None]
    assert all(partitions[k] == as_of_months for k in monthly)
    paths = {k.to_user_string() for k in monthly}
    assert {"marts/customer_360", "marts/fct_outcomes", "marts/customer_factor_scores"} <= paths
    assert {f"scores/{f}_scores" for f in ("contribution", "arrears", "inspection")} <= paths
    unpartitioned = {k.to_user_string() for k, p in partitions.items() if p is None}
    assert {"landing/extract", "raw/bills", "staging/stg_raw__bills"} <= unpartitioned


def test_without_an_extract_the_keys_are_complete_calendar_months():
    window = extract_month_window(None, None)
    keys = window.definition().get_partition_keys(current_time=dt.datetime(2026, 11, 23))
    assert keys[0] == "2024-01-01"
    assert keys[-1] == "2026-10-01"  # November 2026 has not ended
    with pytest.raises(ValueError, match="looks like 'YYYY-MM'"):
        key_of_month("2026-13")
    first = month_of_key(as_of_months.get_partition_keys()[0])
    with pytest.raises(
        ValueError, match=f"not a partition: the months that exist run from {first}"
    ):
        key_of_month("1999-05")


def manifest(start: str, end: str) -> dict:
    return {"extract_start": start, "extract_end": end, "tables": {}}


TODAY = dt.date(2026, 12, 4)


@pytest.mark.parametrize(
    ("start", "end", "last", "months"),
    [
        # an old extract of 24 months: from the first month whose labels close inside it
        ("2005-01-01", "2006-12-31", "2006-12", ("2005-05", "2006-12")),
        # the hand-built extract: 7 months of 2019
        ("2019-01-01", "2019-07-31", "2019-07", ("2019-05", "2019-07")),
        # 6 months still give their newest month and more
        ("2019-01-01", "2019-06-30", "2019-06", ("2019-05", "2019-06")),
        # shorter than the labels need: its last complete month, on the history there is
        ("2019-01-01", "2019-03-31", "2019-03", ("2019-03", "2019-03")),
        # the demo: 24 months ending 2026-10, more than 32 days before today
        ("2024-11-01", "2026-10-31", "2026-10", ("2025-03", "2026-10")),
    ],
)
def test_the_months_offered_are_the_extracts(start, end, last, months):
    window = extract_month_window(manifest(start, end), last, today=TODAY)
    keys = window.definition().get_partition_keys(current_time=dt.datetime(2026, 12, 4))
    assert (month_of_key(keys[0]), month_of_key(keys[-1])) == months
    assert len(keys) == len(months_in_range(f"{months[0]}-01", f"{months[1]}-01"))
    assert start[:7] in window.origin


def test_a_live_extract_runs_on_to_the_calendar_and_an_override_moves_the_first_month():
    live = extract_month_window(manifest("2025-01-01", "2026-11-30"), "2026-11", today=TODAY)
    keys = live.definition().get_partition_keys(current_time=dt.datetime(2027, 2, 10))
    assert keys[0] == "2025-05-01" and keys[-1] == "2027-01-01"  # next deliveries find theirs
    moved = extract_month_window(
        manifest("2005-01-01", "2006-12-31"), "2006-12", today=TODAY, override_first="2005-02"
    )
    assert moved.definition().get_partition_keys()[0] == "2005-02-01"


def test_short_history_is_said_in_the_metadata():
    from orchestration.assets.factors import history_metadata

    short = history_metadata(dt.date(2019, 1, 1), dt.date(2019, 7, 1))
    assert short["history_months_available"] == 7
    assert "cover only its 7 months" in short["short_history"]
    assert history_metadata(dt.date(2024, 11, 1), dt.date(2026, 10, 1)) == {
        "history_months_available": 12
    }


def test_a_range_reaches_dbt_with_the_history_of_its_oldest_month():
    months = months_in_range("2025-11-01", "2026-02-01")
    assert months == [dt.date(2025, 11, 1), dt.date(2025, 12, 1), dt.date(2026, 1, 1),
                      dt.date(2026, 2, 1)]  # fmt: skip
    assert month_vars(months) == {"as_of_month": "2026-02", "history_months": history_months() + 3}
    assert month_vars(months[:1])["history_months"] == history_months()
    assert history_start(dt.date(2026, 3, 1)) == dt.date(2025, 10, 1)


def test_the_schedule_builds_the_month_that_has_just_ended():
    schedule = defs.resolve_schedule_def("monthly_refresh_schedule")
    assert schedule.cron_schedule == "0 6 3 * *"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    assert defs.resolve_job_def("monthly_refresh").partitions_def == as_of_months


@pytest.mark.slow
@pytest.mark.xdist_group("pipeline")
def test_backfill_equals_running_its_months_one_by_one(pipeline_run, backfill_run):
    """The session pipeline ran PREVIOUS_MONTH, then the newest month; a backfill of both in
    one run on a fresh folder must leave identical marts and scores for each month."""
    backfill = backfill_run.backfill
    assert backfill["returncode"] == 0, backfill["stderr"][-4000:]
    assert f"powerseg run succeeded for {PREVIOUS_MONTH}..{NEWEST_MONTH}" in backfill["stdout"]
    # what the backfill wrote, unless its re-run changed it (test_reruns tells)
    backfilled = month_contents(backfill_run.data_dir)
    one_by_one = pipeline_run.contents["newest"]
    assert all(rows > 0 for rows, _ in backfilled.values())
    different = [key for key in backfilled if backfilled[key] != one_by_one[key]]
    assert not different, different


@pytest.mark.slow
@pytest.mark.xdist_group("pipeline")
def test_a_month_that_is_not_a_partition_is_refused_and_nothing_changes(pipeline_run):
    env = landing_env(pipeline_run.data_dir, pipeline_run.raw_dir)
    before = month_contents(pipeline_run.data_dir, (NEWEST_MONTH,))
    result = powerseg_cli("run", "--as-of", "2099-01", env=env)
    assert result.returncode == 2
    assert "as-of month 2099-01 is not a partition" in result.stderr
    assert month_contents(pipeline_run.data_dir, (NEWEST_MONTH,)) == before


def test_features_are_settled_against_the_noise_of_parallel_sums():
    import numpy as np

    from orchestration.assets.factors import settle

    # pairs DuckDB returned for the same month in two runs (a revenue sum, a ratio of sums)
    noisy = np.array([22574213.439999998, -0.00522704200071, 0.00023146572265, 0.0, np.nan])
    again = np.array([22574213.44, -0.00522704200072, 0.000231465722649, 0.0, np.nan])
    np.testing.assert_array_equal(settle(noisy), settle(again))
    assert settle(np.array([0.1234567891234]))[0] == 0.123456789  # never finer than 9 decimals
