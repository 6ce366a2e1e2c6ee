"""A killed run never blocks the next: `powerseg run` stopped by SIGTERM mid-dbt ends within 30 s
with the run failed and the warehouse pool free; killed with SIGKILL mid-dbt it leaves the run
STARTED holding the pool's slot, and the same month run again recovers it and completes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import psutil
import pytest
from dagster import DagsterInstance, DagsterRunStatus

from powerseg_cli.exit_status import EXIT_TERMINATED
from tests.conftest import landing_env, powerseg_command, require_success

pytestmark = pytest.mark.slow

MONTH = "2026-10"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    from simulator import simulate

    folder = tmp_path_factory.mktemp("killed")
    simulate(folder / "landing", customers=800, months=8, seed=3, progress=False)
    return folder


def env_of(data_dir) -> dict[str, str]:
    return landing_env(data_dir / "data", data_dir / "landing" / "raw")


def start_run(data_dir) -> subprocess.Popen:
    return subprocess.Popen(
        powerseg_command("run", "--as-of", MONTH),
        env=env_of(data_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a scheduler starts it
    )


def wait_for_dbt(proc: subprocess.Popen, timeout: float = 600) -> None:
    """Return once the run has a dbt subprocess working."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        try:
            children = psutil.Process(proc.pid).children(recursive=True)
            if any("dbt" in " ".join(child.cmdline()) for child in children):
                time.sleep(2)  # well inside dbt's work
                return
        except psutil.NoSuchProcess:
            pass
        time.sleep(0.2)
    raise AssertionError("the run never started dbt")


def runs_and_slots(data_dir) -> tuple[dict[str, DagsterRunStatus], list[str]]:
    with DagsterInstance.from_config(str(data_dir / "data" / "dagster")) as instance:
        runs = {run.run_id: run.status for run in instance.get_runs()}
        info = instance.event_log_storage.get_concurrency_info("warehouse")
        return runs, [slot.run_id for slot in info.claimed_slots]


def test_sigterm_then_sigkill_mid_dbt_then_the_month_completes(data_dir):
    # SIGTERM: stopped within 30 s, cleanly
    proc = start_run(data_dir)
    wait_for_dbt(proc)
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert time.monotonic() - sent < 30
    assert proc.returncode == EXIT_TERMINATED, stderr[-3000:]
    assert "SIGTERM received" in stderr
    assert f"powerseg run STOPPED for {MONTH}" in stderr
    runs, claimed = runs_and_slots(data_dir)
    assert list(runs.values()) == [DagsterRunStatus.FAILURE] and claimed == []

    # SIGKILL of the whole process group: the run is left STARTED, holding the pool's slot
    proc = start_run(data_dir)
    wait_for_dbt(proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    runs, claimed = runs_and_slots(data_dir)
    killed = next(run_id for run_id, status in runs.items() if status == DagsterRunStatus.STARTED)
    assert claimed == [killed]

    # the same month again: the dead run is recovered, the month completes
    result = require_success(
        subprocess.run(
            powerseg_command("run", "--as-of", MONTH),
            env=env_of(data_dir),
            capture_output=True,
            text=True,
            timeout=900,  # without the recovery it would wait on the slot for ever
        )
    )
    assert f"recovered: run {killed} (monthly_refresh) was left STARTED by process" in result.stderr
    assert "marked failed, freed 1 warehouse pool slot(s)" in result.stderr
    assert f"powerseg run succeeded for {MONTH}" in result.stdout
    runs, claimed = runs_and_slots(data_dir)
    assert runs[killed] == DagsterRunStatus.FAILURE and claimed == []
    assert sorted(s.value for s in runs.values()) == ["FAILURE", "FAILURE", "SUCCESS"]
