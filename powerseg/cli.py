"""The `powerseg` command: simulate an extract, run the whole pipeline for a data folder, summarise.

`powerseg run` executes the Dagster job in this process (no daemon needed, fit for cron) and exits
non-zero naming the failed step or check.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading
import time
import uuid
from pathlib import Path

from powerseg.console import RunConsole, StepProgress
from powerseg.contract import MANIFEST_FILE
from powerseg.settings import Settings

SIMULATOR_END_MONTH = "2026-10"  # simulator.simulate's default end month

DAGSTER_YAML_MARK = "# Written by `powerseg run`"
DAGSTER_YAML = f"""\
{DAGSTER_YAML_MARK}: local instance for the powerseg data folder.
telemetry:
  enabled: false
concurrency:
  runs:
    # DuckDB allows one writer per file: runs launched together queue behind each other.
    max_concurrent_runs: 1
  pools:
    default_limit: 1
"""
# With POWERSEG_DAGSTER_PG_URL: runs, event logs and schedules in PostgreSQL. The URL is read from
# the environment when the instance loads, so no password is written to disk.
DAGSTER_PG_STORAGE = """\
storage:
  postgres:
    postgres_url:
      env: POWERSEG_DAGSTER_PG_URL
"""


def dagster_yaml(settings: Settings) -> str:
    return DAGSTER_YAML + (DAGSTER_PG_STORAGE if settings.dagster_pg_url else "")


def _month(value: str) -> str:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
        raise argparse.ArgumentTypeError(f"expected a month as YYYY-MM, got {value!r}")
    return value


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of months >= 1, got {value!r}")
    return number


def _settings(data_dir: str | None) -> Settings:
    if data_dir:
        os.environ["POWERSEG_DATA_DIR"] = str(Path(data_dir).resolve())
    settings = Settings.from_env()
    os.environ.update(settings.export_env())
    return settings


def prepare_instance(settings: Settings) -> None:
    """Write DAGSTER_HOME/dagster.yaml for these settings, unless someone else wrote it."""
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    config = settings.dagster_home / "dagster.yaml"
    wanted = dagster_yaml(settings)
    if not config.exists() or (
        config.read_text().startswith(DAGSTER_YAML_MARK) and config.read_text() != wanted
    ):
        config.write_text(wanted)
    elif settings.dagster_pg_url and "postgres" not in config.read_text():
        print(
            f"warning: {config} was not written by powerseg and is left as it is: its storage, "
            "not POWERSEG_DAGSTER_PG_URL, decides where runs are kept",
            file=sys.stderr,
        )
    settings.mlflow_dir.mkdir(parents=True, exist_ok=True)


def cmd_simulate(args: argparse.Namespace) -> int:
    from simulator import ForeignFolderError, simulate

    try:
        plan = defect_plan(args)
    except (ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # --out defaults to the data folder of the settings (POWERSEG_DATA_DIR, else ./data)
    out = Path(args.out).resolve() if args.out else Settings.from_env().data_dir
    raw = out / "raw"
    try:
        manifest = simulate(
            out,
            customers=args.customers,
            months=args.months,
            seed=args.seed,
            end_month=args.end_month,
            progress=not args.quiet,
            defects=plan,
        )
    except ForeignFolderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    total = sum(t["rows"] for t in manifest["tables"].values())
    print(
        f"simulated {args.customers:,} customers x {args.months} months "
        f"({manifest['extract_start']} .. {manifest['extract_end']}): {total:,} rows in {raw}"
    )
    if plan is not None and not plan.is_empty:
        print(defects_report(out))
    return 0


def _date(value: str):
    from datetime import date

    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {value!r}") from None


def cmd_manifest(args: argparse.Namespace) -> int:
    from powerseg.landing import LandingError, folder_contents
    from powerseg.manifest import write_manifest

    raw = Path(args.dir).resolve()
    try:
        manifest, window = write_manifest(
            raw, force=args.force, extract_start=args.extract_start, extract_end=args.extract_end
        )
    except LandingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"wrote {raw / MANIFEST_FILE}: extract {manifest['extract_start']} .. "
        f"{manifest['extract_end']} (from {window.derived_from})"
    )
    for table, entry in manifest["tables"].items():
        print(f"  {table:<22} {entry['rows']:>12,} rows in {len(entry['files'])} file(s)")
    other = folder_contents(raw).other
    if other:
        print(f"not listed (not table Parquet files): {', '.join(other)}")
    return 0


def _pairs(values: list[str] | None, option: str) -> list[tuple[str, str]]:
    out = []
    for value in values or []:
        left, sep, right = value.partition("=")
        if not sep or not left or not right:
            raise ValueError(f"{option} expects NAME=VALUE, got {value!r}")
        out.append((left.strip(), right.strip()))
    return out


def _table_column(value: str, option: str) -> tuple[str, str]:
    table, sep, column = value.partition(".")
    if not sep or not table or not column:
        raise ValueError(f"{option} expects TABLE.COLUMN, got {value!r}")
    return table, column


def defect_plan(args: argparse.Namespace):
    """The DefectPlan the simulate options describe, or None for a clean extract."""
    from simulator.defects import ROW_KINDS, DefectPlan

    rates: dict[str, float] = {}
    if args.defects:
        rates = {kind: args.defects for kind in ROW_KINDS}
    for kind, rate in _pairs(args.defect, "--defect"):
        if kind not in ROW_KINDS:
            raise ValueError(f"--defect: unknown kind {kind!r}; known: {', '.join(ROW_KINDS)}")
        rates[kind] = float(rate)
    drops = tuple(_table_column(v, "--drop-column") for v in args.drop_column or [])
    renames = tuple(
        (*_table_column(old, "--rename-column"), new)
        for old, new in _pairs(args.rename_column, "--rename-column")
    )
    tables = tuple(t.strip() for t in args.defect_tables.split(",")) if args.defect_tables else None
    plan = DefectPlan(
        rates=rates,
        tables=tables,
        drop_columns=drops,
        rename_columns=renames,
        empty_tables=tuple(args.empty_table or ()),
    )
    return None if plan.is_empty else plan


def defects_report(out: Path) -> str:
    from simulator.defects import DEFECTS_JSON, DEFECTS_PARQUET, read_defects

    summary, _ = read_defects(out)
    lines = [f"injected {summary['injected_rows']:,} defective rows:"]
    for table, kinds in summary["rows_by_table"].items():
        if kinds:
            counts = ", ".join(f"{kind} {n:,}" for kind, n in kinds.items())
            lines.append(f"  {table:<22} {counts}")
    plan = summary["plan"]
    for label, key in (
        ("dropped columns", "drop_columns"),
        ("renamed columns", "rename_columns"),
        ("empty tables", "empty_tables"),
    ):
        if plan[key]:
            lines.append(f"  {label}: {', '.join(plan[key])}")
    lines.append(f"what was injected, row by row: {out / DEFECTS_PARQUET} ({DEFECTS_JSON.name})")
    return "\n".join(lines)


def _only_warns(evaluation) -> bool:
    """A failed check that lets the run succeed: WARN severity, or a check that blocks nothing
    (the freshness of an old extract: its outputs are still consistent, only old)."""
    import dagster as dg

    return evaluation.severity == dg.AssetCheckSeverity.WARN or evaluation.blocking is False


def _warnings(result) -> list[str]:
    """What let the run go on but deserves a look: WARN gates and factors skipped."""

    lines = []
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed and _only_warns(evaluation):
            summary = evaluation.metadata.get("summary")
            said = summary.value if summary is not None else evaluation.description
            text = f": {said}" if said else ""
            lines.append(
                f"check '{evaluation.check_name}' on {evaluation.asset_key.to_user_string()} "
                f"warned{text}"
            )
    for event in result.get_asset_materialization_events():
        metadata = event.materialization.metadata
        reason = metadata.get("skipped_reason")
        if reason is not None:
            lines.append(str(reason.value))
        unlisted = metadata.get("unlisted_files")
        if unlisted is not None and unlisted.value:
            lines.append(
                f"{event.asset_key.to_user_string()}: ignored {len(unlisted.value)} file(s) not "
                f"listed in {MANIFEST_FILE}: {', '.join(unlisted.value)}"
            )
        converted = metadata.get("converted_to_local_time")
        if converted is not None and converted.value != "none":
            lines.append(
                f"{event.asset_key.to_user_string()}: {converted.value} delivered with a time "
                f"zone, loaded as {Settings.from_env().source_timezone} local time"
            )
    return lines


def _failed_checks(result) -> list:
    return [e for e in result.get_asset_check_evaluations() if not e.passed and not _only_warns(e)]


def _failures(result) -> list[str]:
    """Every failed step and check, each failed expectation of a check on its own line (table.
    column, what was observed, up to three offending keys), then what was not run."""
    from powerseg.quality import failure_lines

    lines = []
    for event in result.get_step_failure_events():
        error = event.step_failure_data.error
        # Dagster wraps user errors; the innermost cause is the one that explains the failure.
        while error is not None and error.cause is not None:
            error = error.cause
        if error is not None and error.cls_name == "DagsterAssetCheckFailedError":
            continue  # the failed checks are listed below, with what failed in them
        message = error.message.strip() if error else "unknown error"
        lines.append(f"step '{event.step_key}' failed: {message}")
    for evaluation in _failed_checks(result):
        severity = getattr(evaluation.severity, "value", evaluation.severity)
        summary = evaluation.metadata.get("summary")
        text = f": {summary.value}" if summary is not None else ""
        lines.append(
            f"check '{evaluation.check_name}' on {evaluation.asset_key.to_user_string()} "
            f"failed ({severity}){text}"
        )
        failures = evaluation.metadata.get("failures")
        if failures is not None:
            table = ".".join(evaluation.asset_key.path)
            lines += [f"    {line}" for line in failure_lines(table, failures.value)]
    # steps after a failure are never started in-process: everything without a start was not run
    started = {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}
    skipped = {e.step_key for e in result.all_events if e.event_type_value == "STEP_SKIPPED"}
    skipped |= {node.name for node in result.job_def.nodes} - started
    if skipped:
        lines.append(f"not run because of the failures above: {', '.join(sorted(skipped))}")
    return lines


def next_step(result, settings: Settings) -> str:
    """The first line of a failed run's report: what to do about it."""
    raw = [e for e in _failed_checks(result) if e.asset_key.path[0] == "raw"]
    if raw:
        problems = 0
        for evaluation in raw:
            failures = evaluation.metadata.get("failures")
            problems += len(failures.value) if failures is not None else 1
        tables = len({e.asset_key for e in raw})
        return (
            f"what to do: the delivery in {settings.raw_dir} has {problems} problem(s) in "
            f"{tables} table(s), listed below; correct them in the source system and deliver the "
            "extract again (with a new _manifest.json), then run `powerseg run` again"
        )
    if _failed_checks(result):
        return (
            "what to do: a quality gate on the pipeline's own tables failed (below); read its "
            "failed expectations, fix the cause or the threshold (docs/runbook.md, section 5), "
            "then run the same month again"
        )
    return (
        "what to do: a step failed (below); fix its cause (the full log says more), then run the "
        "same command again"
    )


# Exit status of a run refused because another run holds the warehouse (EX_TEMPFAIL).
EXIT_LOCKED = 75


def cmd_run(args: argparse.Namespace) -> int:
    from powerseg.run_recovery import PoolBusyError
    from powerseg.runlock import WarehouseLockedError, describe, warehouse_run_lock

    settings = _settings(args.data_dir)
    source = "simulator" if getattr(args, "demo", False) else args.source
    if source:
        os.environ["POWERSEG_SOURCE"] = source
        settings = Settings.from_env()
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


def _run_months(args: argparse.Namespace, settings: Settings) -> tuple[str, str]:
    """The first and last partition key the command asks for (the newest complete month of the
    extract when it names none); ValueError when one is not a partition or they are reversed."""
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
    failures, warnings = _failures(result), _warnings(result)
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
    from dagster import DagsterInstance

    from orchestration.assets.sources import WAREHOUSE_POOL
    from orchestration.resources import ensure_dbt_manifest
    from powerseg.run_recovery import process_tags, recover_dead_runs, wait_for_pool

    ensure_dbt_manifest()  # parses only on a fresh clone or after a dbt project file changed
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


# Exit status of a run stopped by SIGTERM (128 + 15, as a shell reports it).
EXIT_TERMINATED = 143
# Seconds a SIGTERM leaves the run to stop at its next step boundary before it is cut short.
TERMINATE_GRACE_SECONDS = 20.0


class StopOnSigterm:
    """SIGTERM (systemd, a cron timeout, `kill`) stops a run within 30 s and leaves nothing behind.

    While the run executes, Dagster treats SIGTERM as Ctrl-C: the step stops at once (dbt's
    subprocess is told to stop), the run is marked failed and its pool slots are freed. The signal
    is also seen here, through the interpreter's wakeup file descriptor (whichever handler is
    installed): the run ends with EXIT_TERMINATED and, should the step not return within
    TERMINATE_GRACE_SECONDS (a long warehouse query), the run is marked failed, its slots freed,
    its child processes killed and the process exits; the OS then frees the run lock.
    """

    def __init__(self) -> None:
        self.requested = False
        self.console: RunConsole | None = None  # where its lines go while the run executes
        self._run_id: str | None = None
        self._previous_handler = None
        self._previous_fd = -1
        self._pipe: tuple[int, int] | None = None

    def __enter__(self) -> StopOnSigterm:
        read, write = os.pipe()
        os.set_blocking(write, False)
        self._pipe = (read, write)
        self._previous_fd = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
        threading.Thread(target=self._watch, args=(read,), daemon=True).start()
        self._previous_handler = signal.signal(signal.SIGTERM, self._before_the_run)
        return self

    def __exit__(self, *exc) -> None:
        signal.signal(signal.SIGTERM, self._previous_handler or signal.SIG_DFL)
        signal.set_wakeup_fd(self._previous_fd)
        if self._pipe is not None:
            os.close(self._pipe[1])  # ends the watcher

    def arm(self, run_id: str) -> None:
        self._run_id = run_id

    def _before_the_run(self, signum, frame) -> None:
        if self._run_id is None:  # nothing started yet: leave at once
            self._requested_now()
            raise KeyboardInterrupt

    def _watch(self, read: int) -> None:
        with os.fdopen(read, "rb", buffering=0) as wakeups:
            while chunk := wakeups.read(64):
                if signal.SIGTERM in chunk and not self.requested:
                    self._requested_now()
                    threading.Thread(target=self._cut_short, daemon=True).start()

    def _requested_now(self) -> None:
        if not self.requested:
            self.requested = True
            self._tell(
                "SIGTERM received: stopping the run at its current step "
                f"(cut short after {TERMINATE_GRACE_SECONDS:.0f} s)"
            )

    def _cut_short(self) -> None:
        time.sleep(TERMINATE_GRACE_SECONDS)
        import psutil
        from dagster import DagsterInstance

        if self._run_id is not None:
            with DagsterInstance.get() as instance:
                run = instance.get_run_by_id(self._run_id)
                if run is not None and not run.is_finished:
                    instance.report_run_failed(run, message="Stopped by SIGTERM.")
                self.release_slots(instance)
        for child in psutil.Process().children(recursive=True):
            child.kill()
        self._tell("powerseg run STOPPED on SIGTERM (cut short)")
        os._exit(EXIT_TERMINATED)

    def _tell(self, text: str) -> None:
        if self.console is not None:
            self.console.tell(text)
        else:
            print(text, file=sys.stderr, flush=True)

    def release_slots(self, instance) -> None:
        if self._run_id is not None:
            instance.event_log_storage.free_concurrency_slots_for_run(self._run_id)


def newest_complete_month(settings: Settings) -> str:
    """'YYYY-MM' of the newest month the extract in the landing folder covers completely; for a
    simulated demo extract not yet written, the simulator's default end month."""
    from powerseg.landing import ExtractStatus, read_manifest

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
    from powerseg.landing import extract_status
    from simulator import demo_refused

    status = extract_status(settings.raw_dir)
    if status.complete:
        return None
    if settings.source == "simulator" and status.manifest is None:
        refused = demo_refused(settings.raw_dir)
        if refused is None:
            return None
        return f"{status.report()}\nThe demo is not simulated here: {refused}"
    return status.report()


def output_counts(settings: Settings) -> list[tuple[str, str, int]]:
    """(schema, table, rows) of every output-side table in the warehouse (none without one)."""
    import duckdb

    if not settings.warehouse_path.exists():
        return []
    counts = []
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        rows = con.execute(
            """
            select table_schema, table_name from information_schema.tables
            where table_schema in ('marts', 'scores', 'outputs', 'quarantine')
            order by table_schema, table_name
            """
        ).fetchall()
        for schema, table in rows:
            count = con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
            counts.append((schema, table, count))
    return counts


def summary(settings: Settings, counts: list[tuple[str, str, int]] | None = None) -> str:
    lines = [f"data folder: {settings.data_dir}", f"warehouse:   {settings.warehouse_path}"]
    for schema, table, count in output_counts(settings) if counts is None else counts:
        lines.append(f"  {schema}.{table:<40} {count:>12,} rows")
    lines += _newest_outputs(settings)
    lines += [
        f"MLflow store: {settings.mlflow_tracking_uri}",
        "Dagster UI:   make dev    (http://127.0.0.1:3000)",
        "MLflow UI:    make mlflow (http://127.0.0.1:5000)",
    ]
    return "\n".join(lines)


def _newest_outputs(settings: Settings) -> list[str]:
    """Where the newest month's report and exports are, for staff to open."""
    lines = []
    for label, folder, pattern in (
        ("report:", settings.reports_dir, "*.html"),
        ("exports:", settings.exports_dir, "*.csv"),
    ):
        months = sorted(p for p in folder.glob("????-??") if p.is_dir()) if folder.exists() else []
        if months:
            files = sorted(months[-1].glob(pattern))
            where = files[0] if label == "report:" and files else months[-1]
            lines.append(f"{label:<13} {where}")
            portrait = months[-1] / "customer_portrait.csv"
            if label == "exports:" and portrait.is_file():
                lines.append(f"{'portrait:':<13} {portrait}")
    return lines


def cmd_prepare(args: argparse.Namespace) -> int:
    settings = _settings(args.data_dir)
    prepare_instance(settings)
    from orchestration.resources import ensure_dbt_manifest

    ensure_dbt_manifest(force=True)
    print(f"ready: DAGSTER_HOME={settings.dagster_home}, dbt manifest parsed")
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    settings = _settings(args.data_dir)
    if not settings.warehouse_path.exists():
        print(
            f"error: no warehouse in {settings.data_dir} ({settings.warehouse_path} does not "
            "exist): nothing has run for this data folder yet; run `powerseg run` first",
            file=sys.stderr,
        )
        return 1
    counts = output_counts(settings)
    print(summary(settings, counts))
    if not counts:
        print(
            f"error: the warehouse {settings.warehouse_path} holds no output tables yet; "
            "run `powerseg run` first",
            file=sys.stderr,
        )
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="powerseg", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    sim = sub.add_parser("simulate", help="write a simulated source-system extract")
    sim.add_argument("--customers", type=int, default=5000)
    sim.add_argument("--months", type=int, default=24)
    sim.add_argument("--seed", type=int, default=42)
    sim.add_argument(
        "--end-month",
        type=_month,
        default="2026-10",
        help="last (complete) month of the extract, YYYY-MM",
    )
    sim.add_argument(
        "--out",
        help="data folder; tables go to OUT/raw/<table>/, hidden traits to OUT/truth/",
    )
    sim.add_argument("--quiet", action="store_true", help="no progress bar")
    bad = sim.add_argument_group(
        "defects", "corrupt the extract on purpose; what was injected goes to OUT/truth/defects.*"
    )
    bad.add_argument(
        "--defects",
        type=float,
        metavar="RATE",
        help="share of rows per table given each kind of row defect (duplicates, null_keys, "
        "negative_kwh, orphan_customer_ids, dates_out_of_range, unknown_codes)",
    )
    bad.add_argument(
        "--defect",
        action="append",
        metavar="KIND=RATE",
        help="rate of one kind of row defect (repeatable; overrides --defects for that kind)",
    )
    bad.add_argument(
        "--defect-tables", metavar="T1,T2", help="inject row defects only in these tables"
    )
    bad.add_argument(
        "--drop-column", action="append", metavar="TABLE.COLUMN", help="deliver without a column"
    )
    bad.add_argument(
        "--rename-column",
        action="append",
        metavar="TABLE.COLUMN=NEW",
        help="deliver a column under another name",
    )
    bad.add_argument(
        "--empty-table", action="append", metavar="TABLE", help="deliver a table with no rows"
    )
    sim.set_defaults(func=cmd_simulate)

    run = sub.add_parser("run", help="materialise every asset for a data folder")
    run.add_argument("--data-dir", help="data folder (default $POWERSEG_DATA_DIR or ./data)")
    run.add_argument("--as-of", type=_month, help="as-of month YYYY-MM (default: last complete)")
    run.add_argument(
        "--source",
        choices=["simulator", "landing"],
        help="who produces the extract (default $POWERSEG_SOURCE, else landing)",
    )
    run.add_argument(
        "--demo",
        action="store_true",
        help="demo mode (--source simulator): when the landing folder is empty, simulate the "
        "demo extract into it first; a folder with any file in it is never touched",
    )
    run.add_argument(
        "--wait-for-lock",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="when another run is writing the warehouse, wait this long for it (default: stop "
        f"at once with exit status {EXIT_LOCKED})",
    )
    run.add_argument(
        "--verbose",
        action="store_true",
        help="show Dagster's events, dbt's output and library warnings (default: one line per "
        "step; the rest goes to <data>/logs/run-<run id>.log)",
    )
    run.set_defaults(func=cmd_run)

    backfill = sub.add_parser(
        "backfill",
        help="materialise a range of as-of months in one run (each as a single-month run would)",
    )
    backfill.add_argument("--data-dir", help="data folder (default $POWERSEG_DATA_DIR or ./data)")
    span = backfill.add_mutually_exclusive_group(required=True)
    span.add_argument("--from", dest="from_month", type=_month, help="first as-of month YYYY-MM")
    span.add_argument(
        "--newest",
        type=_positive,
        metavar="N",
        help="the newest N complete months of the extract (N=2 gives every model a challenger)",
    )
    backfill.add_argument(
        "--to", dest="to_month", type=_month, help="last as-of month YYYY-MM (default: --from)"
    )
    backfill.add_argument(
        "--source",
        choices=["simulator", "landing"],
        help="who produces the extract (default $POWERSEG_SOURCE)",
    )
    backfill.add_argument(
        "--wait-for-lock",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="when another run is writing the warehouse, wait this long for it",
    )
    backfill.add_argument(
        "--verbose",
        action="store_true",
        help="show Dagster's events, dbt's output and library warnings (default: one line per "
        "step; the rest goes to <data>/logs/run-<run id>.log)",
    )
    backfill.set_defaults(func=cmd_run, as_of=None, demo=False)

    man = sub.add_parser(
        "manifest",
        help="write _manifest.json for a landing folder whose producer writes none",
        description="Write DIR/_manifest.json listing every <table>/*.parquet file in DIR with "
        "its row count, and the extract window derived from bills and meter reads. Run it once "
        "every file of the delivery is in place.",
    )
    man.add_argument("dir", metavar="DIR", help="the landing folder (holding <table>/ folders)")
    man.add_argument("--force", action="store_true", help="replace an existing manifest")
    man.add_argument("--extract-start", type=_date, metavar="YYYY-MM-DD", help="first day covered")
    man.add_argument(
        "--extract-end",
        type=_date,
        metavar="YYYY-MM-DD",
        help="last day covered (default: derived from the data)",
    )
    man.set_defaults(func=cmd_manifest)

    prep = sub.add_parser("prepare", help="create the local Dagster instance and parse dbt")
    prep.add_argument("--data-dir")
    prep.set_defaults(func=cmd_prepare)

    summ = sub.add_parser("summary", help="print rows per output table and where things are")
    summ.add_argument("--data-dir")
    summ.set_defaults(func=cmd_summary)
    return parser


def missing_data_dir(args: argparse.Namespace) -> str | None:
    """A `--data-dir` that does not exist is a mistake (a typo, a missing mount), never a new
    folder to fill: only `simulate --out` and a `run --demo` create one."""
    data_dir = getattr(args, "data_dir", None)
    if not data_dir or getattr(args, "demo", False) or Path(data_dir).is_dir():
        return None
    path = Path(data_dir).resolve()
    what = "is not a folder" if path.exists() else "does not exist"
    return (
        f"--data-dir {path} {what}; give an existing data folder (or create it, or write a demo "
        "extract into it with `powerseg simulate --out DIR`)"
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    problem = missing_data_dir(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
