"""Idempotency, recovery and one writer, through `powerseg run` on the session extract: two runs
launched together, one of them refused (`pipeline_run`); and, in the backfill's folder
(`backfill_run`), a run of a built month that fails midway and loses nothing, then the same month
re-executed, which reproduces it exactly and leaves the other month untouched.
"""

from __future__ import annotations

import pytest

from tests.conftest import PREVIOUS_MONTH

pytestmark = pytest.mark.slow


@pytest.mark.xdist_group("pipeline")
def test_two_runs_launched_together_one_is_refused(pipeline_run):
    concurrent = pipeline_run.steps["concurrent"]
    codes = sorted(r.returncode for r in concurrent)
    assert codes == [0, 75], [r.stderr[-2000:] for r in concurrent]
    refused = next(r.stderr for r in concurrent if r.returncode == 75)
    assert "another powerseg run is writing this warehouse" in refused
    assert f"as-of {PREVIOUS_MONTH}" in refused  # the holder's month, as the lock records it
    written = {
        table: value
        for (table, month), value in pipeline_run.contents["concurrent"].items()
        if month == PREVIOUS_MONTH
    }
    assert all(n > 0 for n, _ in written.values()), written  # the winner wrote a whole month


@pytest.mark.xdist_group("backfill")
def test_a_run_failing_midway_loses_nothing_and_can_be_re_executed(backfill_run):
    broken = backfill_run.tracking_down
    assert broken["returncode"] == 1, broken["stderr"][-3000:]
    assert "powerseg run FAILED" in broken["stderr"] and "scores__" in broken["stderr"]
    # dbt had rebuilt the month's marts when the models failed: both months hold what they held
    assert backfill_run.changed_by["tracking_down"] == []
    assert backfill_run.rerun["returncode"] == 0, backfill_run.rerun["stderr"][-3000:]


@pytest.mark.xdist_group("backfill")
def test_re_running_a_month_reproduces_it_and_leaves_the_other_untouched(backfill_run):
    assert backfill_run.rerun["returncode"] == 0, backfill_run.rerun["stderr"][-3000:]
    # every table of both months as the backfill left it: the newest month rebuilt to the same
    # rows, the previous one untouched
    assert backfill_run.changed_by["rerun"] == []
