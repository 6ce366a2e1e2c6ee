"""`powerseg run`, `backfill` and `prepare`: execute the `monthly_refresh` job for one as-of month
or a range in this process (no daemon needed, fit for cron) and report how it went.

A run exits non-zero naming the failed step or check; one refused because another run holds the
warehouse exits EXIT_LOCKED, one stopped by SIGTERM EXIT_TERMINATED.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid

from dagster import DagsterInstance, reconstructable
from dagster._core.execution.api import execute_run

from orchestration.assets.sources import WAREHOUSE_POOL
from orchestration.resources import ensure_dbt_manifest
from powerseg.console import RunConsole, StepProgress
from powerseg.contract import MANIFEST_FILE
from powerseg.landing import ExtractStatus, extract_status, read_manifest
from powerseg.run_recovery import PoolBusyError, process_tags, recover_dead_runs, wait_for_pool
from powerseg.runlock import WarehouseLockedError, describe, warehouse_run_lock
from powerseg.settings import Settings
from powerseg_cli.exit_status import EXIT_LOCKED, EXIT_TERMINATED
from powerseg_cli.instance import command_settings, prepare_instance
from powerseg_cli.report import next_step, run_failures, run_warnings
from powerseg_cli.sigterm import StopOnSigterm
from powerseg_cli.simulate import SIMULATOR_END_MONTH
from powerseg_cli.summary import summary
from simulator import demo_refused


def cmd_run(args: argparse.Namespace) -> int:
    source = "simulator" if getattr(args, "demo", False) else args.source
    settings = command_settings(args.data_dir, source)
    problem = landing_problem(settings)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2

    def waiting(holder: dict) -> None:
        print(
            f"waiting up to {args.wait_for_lock:.0f} s for the run holding the warehouse: "
            f"{describe(holder)}",
            file=sys.stderr,
            flush=True,
        )

    # A month that cannot be built is refused before anything is locked, imported or touched.
    try:
        months = _run_months(args, settings)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    asked = time.monotonic()  # --wait-for-lock bounds the wait for the lock and the pool slot
    try:
        with warehouse_run_lock(
            settings.warehouse_path,
            wait_seconds=args.wait_for_lock,
            details={
                "as_of": months_label(months),
                "command": (
                    "powerseg backfill"
                    if getattr(args, "from_month", None) or getattr(args, "newest", None)
                    else "powerseg run"
                ),
            },
            on_wait=waiting,
        ):
            remaining = max(0.0, args.wait_for_lock - (time.monotonic() - asked))
            with StopOnSigterm() as stop:
                return _run_locked(
                    months,
                    settings,
                    wait_for_slot=remaining,
                    stop=stop,
                    verbose=getattr(args, "verbose", False),
                )
    except (WarehouseLockedError, PoolBusyError) as exc:
        print(f"powerseg run REFUSED: {exc}", file=sys.stderr)
        return EXIT_LOCKED


def cmd_prepare(args: argparse.Namespace) -> int:
    settings = command_settings(args.data_dir)
    prepare_instance(settings)
    ensure_dbt_manifest(force=True)
    print(f"ready: DAGSTER_HOME={settings.dagster_home}, dbt manifest parsed")
    return 0


def _run_months(args: argparse.Namespace, settings: Settings) -> tuple[str, str]:
    """The first and last partition key the command asks for (the newest complete month of the
    extract when it names none); ValueError when one is not a partition or they are reversed."""
    # The partitions follow the landing folder of the settings when the module loads: imported
    # only once `command_settings` has put this command's settings in the environment.
    from orchestration.partitions import key_of_month

    months = (args.as_of, args.as_of) if args.as_of else None
    if getattr(args, "from_month", None):
        months = (args.from_month, args.to_month or args.from_month)
    if getattr(args, "newest", None):
        if args.to_month:
            raise ValueError("--to goes with --from; --newest N ends at the newest complete month")
        newest = newest_complete_month(settings)
        months = (_shift_month(newest, 1 - args.newest), newest)
    if months is None:
        newest = newest_complete_month(settings)
        months = (newest, newest)
    start, end = key_of_month(months[0]), key_of_month(months[1])
    if start > end:
        raise ValueError(f"--from {months[0]} is after --to {months[1]}")
    return start, end


def _shift_month(month: str, months: int) -> str:
    index = int(month[:4]) * 12 + int(month[5:7]) - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def months_label(months: tuple[str, str]) -> str:
    """'2026-10' for one month, '2026-05..2026-10' for a range."""
    first, last = (key[:7] for key in months)
    return last if first == last else f"{first}..{last}"


def _run_locked(
    months: tuple[str, str],
    settings: Settings,
    *,
    wait_for_slot: float,
    stop: StopOnSigterm,
    verbose: bool = False,
) -> int:
    prepare_instance(settings)
    run_id = str(uuid.uuid4())  # known before the run starts: its log file, SIGTERM, progress
    what = months_label(months)
    console = RunConsole(settings.data_dir / "logs" / f"run-{run_id}.log", verbose=verbose)
    stop.console = console
    started = time.monotonic()
    with console:
        console.say(f"powerseg run for {what} (run {run_id})")
        result = _execute(months, settings, run_id, wait_for_slot, stop, console, started)
    log = "" if verbose else f"; full log: {console.log_path}"
    if stop.requested:
        print(
            f"powerseg run STOPPED for {what} (run {run_id}) on SIGTERM: the run is marked "
            f"failed and the warehouse is free; run the same command again to redo the month{log}",
            file=sys.stderr,
        )
        return EXIT_TERMINATED
    failures, warnings = run_failures(result), run_warnings(result, settings)
    failed = not result.success or bool(failures)
    if failed:
        print(
            f"powerseg run FAILED for {what} (run {result.run_id}); {next_step(result, settings)}",
            file=sys.stderr,
        )
    if warnings:
        print("warnings (the run went on):", file=sys.stderr)
        for line in warnings:
            print(f"  - {line}", file=sys.stderr)
    if failed:
        print("failures:", file=sys.stderr)
        for line in failures or ["the run did not succeed; see the Dagster UI for details"]:
            print(f"  - {line}" if not line.startswith("    ") else line, file=sys.stderr)
        if log:
            print(f"full log: {console.log_path}", file=sys.stderr)
        return 1
    print(
        f"powerseg run succeeded for {what} (run {result.run_id}) in "
        f"{time.monotonic() - started:.0f} s{log}"
    )
    print(summary(settings))
    return 0


def _execute(
    months: tuple[str, str],
    settings: Settings,
    run_id: str,
    wait_for_slot: float,
    stop: StopOnSigterm,
    console: RunConsole,
    started: float,
):
    """Execute `monthly_refresh` for `months` in this process; its result, or None when SIGTERM
    stopped it before Dagster started."""
    ensure_dbt_manifest()  # parses only on a fresh clone or after a dbt project file changed
    # The dbt assets are declared from the manifest: the definitions load once it is parsed.
    from orchestration.definitions import defs

    start, end = months
    # one run for one month or a whole range (the partitioned assets run the range at once)
    tags = {"powerseg/as_of_month": months_label(months), **process_tags()}
    partition_key = start if start == end else None
    if partition_key is None:
        tags |= {
            "dagster/asset_partition_range_start": start,
            "dagster/asset_partition_range_end": end,
        }
    job = defs.resolve_job_def("monthly_refresh")
    with DagsterInstance.get() as instance:
        # a run killed earlier must not hold the warehouse pool's slot for ever
        for recovered in recover_dead_runs(instance):
            console.tell(f"recovered: {recovered.describe()}")
        wait_for_pool(
            instance,
            WAREHOUSE_POOL,
            wait_seconds=wait_for_slot,
            on_wait=lambda holders: console.tell(
                f"waiting up to {wait_for_slot:.0f} s for the '{WAREHOUSE_POOL}' pool slot held "
                f"by {', '.join(holders)}"
            ),
        )
        stop.arm(run_id)
        try:
            with StepProgress(instance, run_id, len(job.nodes), console, started):
                if settings.dagster_pg_url:
                    return _execute_in_step_processes(instance, job, run_id, tags, partition_key)
                return job.execute_in_process(
                    instance=instance,
                    partition_key=partition_key,
                    raise_on_error=False,
                    tags=tags,
                    run_id=run_id,
                )
        except KeyboardInterrupt:
            if not stop.requested:
                raise
            return None
        finally:
            stop.release_slots(instance)


def _execute_in_step_processes(instance, job, run_id: str, tags: dict, partition_key: str | None):
    """Execute the job with its steps in processes of their own (the code location's executor
    with Dagster in PostgreSQL): the run is created under `run_id` first, so the log file,
    SIGTERM and progress know it, then executed from the importable job."""
    from orchestration.definitions import monthly_refresh_job

    recon = reconstructable(monthly_refresh_job)
    if partition_key is not None:
        tags = {**tags, "dagster/partition": partition_key}
    run = instance.create_run_for_job(
        job_def=job, run_id=run_id, tags=tags, job_code_origin=recon.get_python_origin()
    )
    return execute_run(recon, run, instance, raise_on_error=False)


def newest_complete_month(settings: Settings) -> str:
    """'YYYY-MM' of the newest month the extract in the landing folder covers completely; for a
    simulated demo extract not yet written, the simulator's default end month."""
    manifest = read_manifest(settings.raw_dir)
    if manifest is None or not manifest.get("extract_end"):
        if settings.source == "simulator":
            return SIMULATOR_END_MONTH
        raise ValueError(
            f"no complete extract in {settings.raw_dir} (its {MANIFEST_FILE} is missing): "
            "give the month with --as-of YYYY-MM"
        )
    return ExtractStatus(settings.raw_dir, manifest).last_complete_month


def landing_problem(settings: Settings) -> str | None:
    """Why a run cannot start on the landing folder, or None. A complete extract (its manifest,
    every listed file and row count) runs; in demo mode (POWERSEG_SOURCE=simulator) an empty
    landing folder, or one the simulator left unfinished, gets a demo extract. Nothing else is
    run or touched."""
    status = extract_status(settings.raw_dir)
    if status.complete:
        return None
    if settings.source == "simulator" and status.manifest is None:
        refused = demo_refused(settings.raw_dir)
        if refused is None:
            return None
        return f"{status.report()}\nThe demo is not simulated here: {refused}"
    return status.report()
