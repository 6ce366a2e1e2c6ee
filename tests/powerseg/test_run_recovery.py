"""A run whose process died is marked failed and gives its pool slot back; a live run, a run of
another host and a run whose process cannot be told are left alone; waiting for a held slot has
a bound; SIGTERM cuts a run short when its step does not return.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest
from dagster import DagsterInstance, DagsterRunStatus
from dagster._core.test_utils import create_run_for_test

from powerseg.run_recovery import (
    HOST_TAG,
    PID_TAG,
    PROCESS_STARTED_TAG,
    PoolBusyError,
    process_alive,
    process_tags,
    recover_dead_runs,
    wait_for_pool,
)
from powerseg_cli.exit_status import EXIT_TERMINATED
from powerseg_cli.instance import DAGSTER_YAML

POOL = "warehouse"


@pytest.fixture
def instance(tmp_path):
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    with DagsterInstance.from_config(str(home)) as instance:
        yield instance


def dead_process_tags() -> dict[str, str]:
    """Tags of a process that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.2)"])
    started = psutil.Process(child.pid).create_time()
    child.wait()
    assert not process_alive(child.pid, started)
    return {**process_tags(), PID_TAG: str(child.pid), PROCESS_STARTED_TAG: f"{started:.3f}"}


def started_run(instance, tags: dict[str, str], *, step: str = "dbt_staging_models"):
    run = create_run_for_test(
        instance, job_name="monthly_refresh", status=DagsterRunStatus.STARTED, tags=tags
    )
    storage = instance.event_log_storage
    storage.set_concurrency_slots(POOL, 1)
    assert storage.claim_concurrency_slot(POOL, run.run_id, step).is_claimed
    return run


def claimed_by(instance) -> list[str]:
    return [
        slot.run_id for slot in instance.event_log_storage.get_concurrency_info(POOL).claimed_slots
    ]


def test_a_killed_run_is_marked_failed_and_its_slot_freed(instance):
    run = started_run(instance, dead_process_tags())
    assert claimed_by(instance) == [run.run_id]

    recovered = recover_dead_runs(instance)

    assert [(r.run_id, r.status, r.freed_slots) for r in recovered] == [(run.run_id, "STARTED", 1)]
    assert "which is gone: marked failed, freed 1 warehouse pool slot(s)" in recovered[0].describe()
    assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.FAILURE
    assert claimed_by(instance) == []
    assert recover_dead_runs(instance) == []  # nothing left to do


def test_live_foreign_and_unknown_runs_are_left_alone(instance):
    live = started_run(instance, process_tags())
    elsewhere = create_run_for_test(
        instance,
        status=DagsterRunStatus.STARTED,
        tags={**dead_process_tags(), HOST_TAG: "another-host"},
    )
    unknown = create_run_for_test(instance, status=DagsterRunStatus.STARTED)

    assert recover_dead_runs(instance) == []
    for run in (live, elsewhere, unknown):
        assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.STARTED
    assert claimed_by(instance) == [live.run_id]


def test_a_reused_pid_is_not_taken_for_the_run(instance):
    # the run's pid is alive, but it is a process that started later than the run's
    tags = {**process_tags(), PROCESS_STARTED_TAG: f"{psutil.Process().create_time() - 3600:.3f}"}
    run = started_run(instance, tags)
    assert [r.run_id for r in recover_dead_runs(instance)] == [run.run_id]


def test_a_finished_run_that_still_holds_a_slot_gives_it_back(instance):
    run = started_run(instance, process_tags())
    instance.report_run_failed(run)
    recovered = recover_dead_runs(instance)
    assert [(r.run_id, r.pid, r.freed_slots) for r in recovered] == [(run.run_id, None, 1)]
    assert "had ended FAILURE, freed 1 warehouse pool slot(s)" in recovered[0].describe()
    assert claimed_by(instance) == []


def test_waiting_for_a_held_slot_gives_up_naming_the_holder(instance):
    holder = started_run(instance, process_tags())
    told = []
    started = time.monotonic()
    with pytest.raises(PoolBusyError) as caught:
        wait_for_pool(instance, POOL, wait_seconds=1.0, on_wait=told.append, poll_seconds=0.2)
    assert 1.0 <= time.monotonic() - started < 10
    assert f"run {holder.run_id} (monthly_refresh, STARTED)" in str(caught.value)
    assert "--wait-for-lock" in str(caught.value)
    assert told == [[f"run {holder.run_id} (monthly_refresh, STARTED)"]]

    instance.event_log_storage.free_concurrency_slots_for_run(holder.run_id)
    wait_for_pool(instance, POOL, wait_seconds=0.0)  # a free slot: no wait, no error


STUCK_STEP = """
import sys, time
import powerseg_cli.sigterm as cli

cli.TERMINATE_GRACE_SECONDS = 1.0
with cli.StopOnSigterm() as stop:
    stop.arm("run-that-does-not-exist")
    print("running", flush=True)
    child = __import__("subprocess").Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    print(child.pid, flush=True)
    while True:  # a step that never reaches a boundary
        time.sleep(0.05)
"""


def test_sigterm_cuts_short_a_step_that_does_not_return(tmp_path):
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(STUCK_STEP)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, DAGSTER_HOME=str(home)),
    )
    assert proc.stdout.readline().strip() == "running"
    child = int(proc.stdout.readline())
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == EXIT_TERMINATED, stderr
    assert time.monotonic() - started < 30
    assert "SIGTERM received" in stderr and "STOPPED on SIGTERM (cut short)" in stderr
    assert not process_alive(child)  # its children do not outlive it
