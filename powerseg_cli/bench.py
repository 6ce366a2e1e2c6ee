"""Benchmark: simulate an extract of a given size and run each pipeline stage in its own process,
reporting wall time and peak memory (RSS of the stage's whole process tree) per stage.

    python -m powerseg_cli.bench --customers 100000 --months 12 [--data-dir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from powerseg.settings import Settings

REPO = Path(__file__).resolve().parent.parent
DBT_DIR = REPO / "dbt_project"


@dataclass
class StageResult:
    stage: str
    seconds: float
    peak_rss_mib: float
    ok: bool


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += p.memory_info().rss
    return total


def run_stage(name: str, cmd: list[str], env: dict[str, str]) -> StageResult:
    print(f"--- {name}: {' '.join(cmd)}", flush=True)
    start = time.perf_counter()
    child = subprocess.Popen(cmd, env=env, cwd=REPO)
    proc = psutil.Process(child.pid)
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            try:
                peak = max(peak, _tree_rss(proc))
            except psutil.NoSuchProcess:
                return
            stop.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    code = child.wait()
    stop.set()
    sampler.join()
    result = StageResult(name, time.perf_counter() - start, peak / 2**20, code == 0)
    status = "ok" if result.ok else f"FAILED (exit {code})"
    print(f"--- {name}: {result.seconds:.1f} s, peak {result.peak_rss_mib:,.0f} MiB, {status}")
    return result


def stages(data_dir: Path, customers: int, months: int) -> list[tuple[str, list[str]]]:
    py = sys.executable
    bindir = Path(py).parent
    load = (
        "import duckdb; from powerseg.landing import load_landing; "
        f"con = duckdb.connect({str(data_dir / 'warehouse.duckdb')!r}); "
        "con.execute('set enable_progress_bar = false'); "
        f"r = load_landing({str(data_dir / 'raw')!r}, con); con.close(); "
        "print(sum(t.rows for t in r.values()), 'raw rows loaded')"
    )
    dbt_common = [
        "--project-dir",
        str(DBT_DIR),
        "--profiles-dir",
        str(DBT_DIR),
        "--target-path",
        str(data_dir / "dbt_target"),
    ]
    return [
        (
            "simulate",
            [
                py,
                "-m",
                "powerseg_cli.main",
                "simulate",
                "--customers",
                str(customers),
                "--months",
                str(months),
                "--out",
                str(data_dir),
                "--quiet",
            ],
        ),
        ("load_raw", [py, "-c", load]),
        # Parsing the project is a fixed cost, whatever the data size (a deployment parses once
        # and every later invocation re-uses it, as dagster-dbt does); measured on its own.
        ("dbt_parse", [str(bindir / "dbt"), "parse", "--quiet", *dbt_common]),
        (
            "dbt_build",
            [
                str(bindir / "dbt"),
                "build",
                "--quiet",
                "--exclude",
                "tag:factor_scores",
                *dbt_common,
            ],
        ),
        ("dagster_full_run", [py, "-m", "powerseg_cli.main", "run", "--data-dir", str(data_dir)]),
    ]


def step_timings(dagster_home: Path) -> list[tuple[str, float, str]]:
    """(step, seconds, status) of every step of the newest run in the instance, slowest first."""
    if not (dagster_home / "dagster.yaml").exists():
        return []
    from dagster import DagsterInstance

    with DagsterInstance.from_config(str(dagster_home)) as instance:
        runs = instance.get_runs(limit=1)
        if not runs:
            return []
        stats = instance.get_run_step_stats(runs[0].run_id)
    rows = [
        (s.step_key, (s.end_time or s.start_time or 0) - (s.start_time or 0), str(s.status.value))
        for s in stats
        if s.status is not None
    ]
    return sorted(rows, key=lambda row: -row[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="powerseg_cli.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--data-dir", help="work folder (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--skip", action="append", default=[], help="stage to skip (repeatable)")
    args = parser.parse_args(argv)

    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="powerseg-bench-")).resolve()
    env = dict(os.environ)
    env.update(
        POWERSEG_DATA_DIR=str(data_dir),
        POWERSEG_WAREHOUSE=str(data_dir / "warehouse.duckdb"),
        POWERSEG_RAW_DIR=str(data_dir / "raw"),
        POWERSEG_TRUTH_DIR=str(data_dir / "truth"),
        POWERSEG_MLFLOW_DIR=str(data_dir / "mlflow"),
        DAGSTER_HOME=str(data_dir / "dagster"),
        POWERSEG_SOURCE="landing",
    )
    env.pop("MLFLOW_TRACKING_URI", None)
    results = []
    for name, cmd in stages(data_dir, args.customers, args.months):
        if name in args.skip:
            continue
        results.append(run_stage(name, cmd, env))
        if not results[-1].ok:
            break

    print(f"\nbenchmark: {args.customers:,} customers x {args.months} months, folder {data_dir}")
    print(f"{'stage':<20}{'wall s':>10}{'peak RSS MiB':>15}  status")
    for r in results:
        print(
            f"{r.stage:<20}{r.seconds:>10.1f}{r.peak_rss_mib:>15,.0f}  {'ok' if r.ok else 'FAILED'}"
        )
    steps = step_timings(data_dir / "dagster")
    if steps:
        print(f"\nsteps of the Dagster run (slowest first)\n{'step':<45}{'wall s':>10}  status")
        for step, seconds, status in steps:
            print(f"{step:<45}{seconds:>10.1f}  {status.lower()}")
    temporary = args.data_dir is None and not args.keep
    # a temporary folder is deleted afterwards: the report then goes to the usual data folder
    reports = (Settings.from_env().data_dir if temporary else data_dir) / "reports"
    report = reports / f"bench-{args.customers}x{args.months}.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(
        json.dumps(
            {
                "customers": args.customers,
                "months": args.months,
                "stages": [asdict(r) for r in results],
                "dagster_steps": [
                    {"step": step, "seconds": seconds, "status": status}
                    for step, seconds, status in steps
                ],
            },
            indent=2,
        )
    )
    print(f"report: {report.resolve()}")
    if temporary:
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
