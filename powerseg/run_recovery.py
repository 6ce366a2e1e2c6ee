"""Runs of this Dagster instance whose process died.

A run killed with SIGKILL (or cut off by a reboot or the OOM killer) never reports its end: it stays
STARTED in the instance and keeps its slot in the `warehouse` pool, so the next run would wait on
that slot for ever. Before it starts, `powerseg run` calls `recover_dead_runs`: every unfinished run
whose process is gone is marked failed and its pool slots are freed, and slots still held by
finished runs are freed too. A run is only declared dead when its process is known and gone:

- `powerseg run` tags its runs with its pid, host and the process's start time (`process_tags`),
  so a pid reused by another program is not taken for the run;
- runs the UI or the daemon launched announce their run worker's pid in an engine event.

Runs of another host, and runs whose process cannot be told, are left as they are.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import psutil

PID_TAG = "powerseg/pid"
HOST_TAG = "powerseg/host"
PROCESS_STARTED_TAG = "powerseg/process_started"

# Tolerance on a process's start time, which psutil derives from clock ticks since boot.
_START_TIME_TOLERANCE_S = 1.0


def process_tags() -> dict[str, str]:
    """Tags naming this process, for a run executed in it."""
    me = psutil.Process()
    return {
        PID_TAG: str(me.pid),
        HOST_TAG: socket.gethostname(),
        PROCESS_STARTED_TAG: f"{me.create_time():.3f}",
    }


def process_alive(pid: int, started: float | None = None) -> bool:
    """Whether process `pid` runs (a zombie does not); with `started`, only if it is the process
    that started then, not a later one given the same pid."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return started is None or abs(process.create_time() - started) <= _START_TIME_TOLERANCE_S
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True  # it exists, run by someone else


@dataclass(frozen=True)
class RecoveredRun:
    run_id: str
    job_name: str
    status: str  # the status it was left in
    pid: int | None  # None: a finished run that still held slots
    freed_slots: int

    def describe(self) -> str:
        slots = f", freed {self.freed_slots} warehouse pool slot(s)" if self.freed_slots else ""
        if self.pid is None:
            return f"run {self.run_id} ({self.job_name}) had ended {self.status}{slots}"
        return (
            f"run {self.run_id} ({self.job_name}) was left {self.status} by process {self.pid}, "
            f"which is gone: marked failed{slots}"
        )


def _run_worker(instance, run) -> tuple[int, float | None] | None:
    """(pid, start time) of the process executing `run`, when known on this host."""
    tags = run.tags
    if PID_TAG in tags:
        if tags.get(HOST_TAG) != socket.gethostname():
            return None
        started = tags.get(PROCESS_STARTED_TAG)
        return int(tags[PID_TAG]), float(started) if started else None
    from dagster import DagsterEventType

    # "Started process for run (pid: N)": the run worker of a run launched by the UI or daemon
    for entry in instance.all_logs(run.run_id, of_type=DagsterEventType.ENGINE_EVENT):
        data = entry.dagster_event.engine_event_data if entry.dagster_event else None
        pid = data.metadata.get("pid") if data is not None else None
        if pid is not None:
            return int(pid.value if hasattr(pid, "value") else pid), None
    return None


def _slots_held(instance, run_id: str, pools: Iterable[str]) -> int:
    storage = instance.event_log_storage
    held = 0
    for pool in pools:
        info = storage.get_concurrency_info(pool)
        held += sum(1 for slot in info.claimed_slots if slot.run_id == run_id)
    return held


def recover_dead_runs(instance) -> list[RecoveredRun]:
    """Mark failed every unfinished run of `instance` whose process is gone and free the pool
    slots of those runs and of finished runs that still hold some; what was done, run by run."""
    from dagster import DagsterRunStatus, RunsFilter

    storage = instance.event_log_storage
    pools = sorted(storage.get_concurrency_keys())
    recovered: list[RecoveredRun] = []
    unfinished = instance.get_runs(
        filters=RunsFilter(
            statuses=[
                DagsterRunStatus.STARTING,
                DagsterRunStatus.STARTED,
                DagsterRunStatus.CANCELING,
            ]
        )
    )
    for run in unfinished:
        worker = _run_worker(instance, run)
        if worker is None or process_alive(*worker):
            continue
        held = _slots_held(instance, run.run_id, pools)
        instance.report_run_failed(
            run,
            message=(
                f"Marked failed by powerseg run: the process executing this run (pid {worker[0]}) "
                "is gone (killed or crashed) and left the run unfinished."
            ),
        )
        storage.free_concurrency_slots_for_run(run.run_id)
        recovered.append(RecoveredRun(run.run_id, run.job_name, run.status.value, worker[0], held))
    done = {r.run_id for r in recovered}
    for run_id in sorted(storage.get_concurrency_run_ids() - done):
        run = instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            held = _slots_held(instance, run_id, pools)
            storage.free_concurrency_slots_for_run(run_id)
            status = run.status.value if run is not None else "DELETED"
            job = run.job_name if run is not None else "unknown job"
            recovered.append(RecoveredRun(run_id, job, status, None, held))
    return recovered


class PoolBusyError(RuntimeError):
    """Live runs hold every slot of a pool for longer than the caller would wait."""


def pool_holders(instance, pool: str) -> list[str]:
    """The runs holding the slots of `pool` when none is free; [] when one is."""
    info = instance.event_log_storage.get_concurrency_info(pool)
    limit = info.limit if info.limit is not None else info.slot_count
    if not limit or len(info.claimed_slots) < limit:
        return []
    holders = []
    for run_id in sorted(info.active_run_ids):
        run = instance.get_run_by_id(run_id)
        what = f"{run.job_name}, {run.status.value}" if run is not None else "unknown run"
        holders.append(f"run {run_id} ({what})")
    return holders


def wait_for_pool(
    instance,
    pool: str,
    *,
    wait_seconds: float,
    on_wait: Callable[[list[str]], None] | None = None,
    poll_seconds: float = 2.0,
) -> None:
    """Return once `pool` has a free slot; PoolBusyError naming its holders after `wait_seconds`."""
    started = time.monotonic()
    told = False
    while holders := pool_holders(instance, pool):
        waited = time.monotonic() - started
        if waited >= wait_seconds:
            raise PoolBusyError(
                f"the '{pool}' pool's slots are held by {', '.join(holders)}"
                + (f" (waited {waited:.0f} s)" if waited else "")
                + "; wait for it to finish (see the Dagster UI), or pass --wait-for-lock SECONDS "
                "to queue behind it."
            )
        if not told and on_wait is not None:
            on_wait(holders)
            told = True
        time.sleep(poll_seconds)
