"""One writer per warehouse: a second `powerseg run` on a locked warehouse stops at once (or after
waiting) with a message naming the holder, and the lock dies with its process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from powerseg.manifest import write_manifest
from powerseg.runlock import WarehouseLockedError, lock_path_for, warehouse_run_lock
from tests.quality.conftest import write_clean_extract

HOLD = """
import sys, time
from powerseg.runlock import warehouse_run_lock
with warehouse_run_lock(sys.argv[1], details={"as_of": "2026-05"}):
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def hold_lock(warehouse, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(warehouse), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_holder_fails_fast_naming_the_first(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    holder = hold_lock(warehouse, 30)
    try:
        started = time.monotonic()
        with pytest.raises(WarehouseLockedError) as caught, warehouse_run_lock(warehouse):
            pass
        assert time.monotonic() - started < 5
        message = str(caught.value)
        assert f"pid {holder.pid}" in message and "as-of 2026-05" in message
        assert "--wait-for-lock" in message
    finally:
        holder.kill()
        holder.wait()
    # the OS released the lock with the process: the next run gets it
    with warehouse_run_lock(warehouse) as path:
        assert path == lock_path_for(warehouse)


def test_a_waiting_run_queues_behind_the_holder(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    holder = hold_lock(warehouse, 2)
    told = []
    started = time.monotonic()
    try:
        with warehouse_run_lock(warehouse, wait_seconds=60, on_wait=told.append, poll_seconds=0.2):
            # it got the lock only once the first run (holding it ~2 s) let go
            assert time.monotonic() - started > 1.0
    finally:
        holder.kill()
        holder.wait()
    assert told and told[0]["pid"] == holder.pid


def test_cli_run_refuses_while_another_run_holds_the_warehouse(tmp_path):
    data = tmp_path / "data"
    landing = tmp_path / "landing"  # a complete delivery: the run gets as far as the lock
    write_clean_extract(landing)
    write_manifest(landing)
    holder = hold_lock(data / "warehouse.duckdb", 60)
    try:
        env = dict(os.environ, POWERSEG_DATA_DIR=str(data), DAGSTER_HOME=str(data / "dagster"))
        env["POWERSEG_RAW_DIR"] = str(landing)
        env.pop("POWERSEG_WAREHOUSE", None)
        refused = subprocess.run(
            # the extract's newest month: a month it holds, so the run gets to the lock
            [sys.executable, "-m", "powerseg_cli.main", "run", "--source", "landing"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        holder.kill()
        holder.wait()
    assert refused.returncode == 75
    assert "powerseg run REFUSED: another powerseg run is writing this warehouse" in refused.stderr
    assert f"pid {holder.pid}" in refused.stderr
    assert not (data / "warehouse.duckdb").exists()  # nothing was started
