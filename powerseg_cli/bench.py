"""Benchmark: simulate an extract of a given size and run each pipeline stage in its own process,
reporting wall time and peak memory (RSS of the stage's whole process tree) per stage, seconds per
million raw rows, and each stage against the physical floor: one DuckDB aggregate pass over the
daily-read Parquet, measured in the same run.

    python -m powerseg_cli.bench --customers 100000 --months 12 [--data-dir DIR] [--keep]
    python -m powerseg_cli.bench --sizes 100000,300000,1000000 --months 12 --data-dir DIR
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
    seconds_per_million_rows: float | None = None
    ratio_to_floor: float | None = None


FLOOR_STAGE = "floor_daily_reads_aggregate"
# What no pipeline can beat: one customer-month aggregate pass straight over the daily reads.
FLOOR_SQL = (
    "select count(*) from (select customer_id, date_trunc('month', read_date) as month, "
    "sum(kwh) as kwh, count(*) as reads from read_parquet({files}) group by all)"
)


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


def raw_rows(raw_dir: Path) -> int:
    """The extract's rows, as its manifest counts them (0 when there is no manifest yet)."""
    manifest = raw_dir / "_manifest.json"
    if not manifest.exists():
        return 0
    tables = json.loads(manifest.read_text()).get("tables", {})
    return sum(int(t.get("rows", 0)) for t in tables.values())


def floor_command(data_dir: Path) -> list[str]:
    files = repr(str(data_dir / "raw" / "meter_reads_daily" / "*.parquet"))
    sql = FLOOR_SQL.format(files=files)
    return [
        sys.executable,
        "-c",
        # no progress bar: it would fill the benchmark's log with carriage returns
        "import duckdb; duckdb.execute('set enable_progress_bar = false'); "
        f"print(duckdb.sql({sql!r}).fetchone()[0], 'rows')",
    ]


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
        (FLOOR_STAGE, floor_command(data_dir)),
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


def with_rates(results: list[StageResult], rows: int) -> list[StageResult]:
    """Seconds per million raw rows and the ratio to the floor stage, for every stage."""
    floor = next((r.seconds for r in results if r.stage == FLOOR_STAGE and r.ok), None)
    for r in results:
        if rows and r.stage != "simulate":
            r.seconds_per_million_rows = round(r.seconds / (rows / 1e6), 3)
        if floor and r.stage not in ("simulate", FLOOR_STAGE):
            r.ratio_to_floor = round(r.seconds / floor, 2)
    return results


def bench_env(data_dir: Path) -> dict[str, str]:
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
    # every stage, dbt on its own too, with the memory limit and spill folder of a run
    env.update(Settings.from_env(env).export_env())
    return env


def run_size(data_dir: Path, customers: int, months: int, skip: list[str]) -> dict:
    """Every stage on one extract size; the report as written to bench-<N>x<M>.json."""
    env = bench_env(data_dir)
    skip = list(skip)
    if (data_dir / "raw" / "_manifest.json").exists() and "simulate" not in skip:
        print(f"--- simulate: an extract is already in {data_dir / 'raw'}; not simulated again")
        skip.append("simulate")
    results = []
    for name, cmd in stages(data_dir, customers, months):
        if name in skip:
            continue
        results.append(run_stage(name, cmd, env))
        if not results[-1].ok:
            break
    rows = raw_rows(data_dir / "raw")
    with_rates(results, rows)
    print(f"\nbenchmark: {customers:,} customers x {months} months, {rows:,} raw rows, {data_dir}")
    print(
        f"{'stage':<30}{'wall s':>10}{'peak RSS MiB':>15}{'s / M rows':>12}{'x floor':>9}  status"
    )
    for r in results:
        rate = "" if r.seconds_per_million_rows is None else f"{r.seconds_per_million_rows:.2f}"
        ratio = "" if r.ratio_to_floor is None else f"{r.ratio_to_floor:.1f}"
        print(
            f"{r.stage:<30}{r.seconds:>10.1f}{r.peak_rss_mib:>15,.0f}{rate:>12}{ratio:>9}  "
            f"{'ok' if r.ok else 'FAILED'}"
        )
    steps = step_timings(data_dir / "dagster")
    if steps:
        print(f"\nsteps of the Dagster run (slowest first)\n{'step':<45}{'wall s':>10}  status")
        for step, seconds, status in steps:
            print(f"{step:<45}{seconds:>10.1f}  {status.lower()}")
    return {
        "customers": customers,
        "months": months,
        "raw_rows": rows,
        "stages": [asdict(r) for r in results],
        "dagster_steps": [
            {"step": step, "seconds": seconds, "status": status} for step, seconds, status in steps
        ],
    }


def side_by_side(reports: list[dict]) -> str:
    """One line per stage, one column pair (seconds, peak MiB) per size."""
    sizes = [f"{r['customers']:,}" for r in reports]
    names = list(dict.fromkeys(s["stage"] for r in reports for s in r["stages"]))
    head = f"{'stage':<30}" + "".join(
        f"{size + ' s':>16}{'MiB':>8}{'x floor':>8}" for size in sizes
    )
    lines = [head]
    for name in names:
        cells = []
        for r in reports:
            stage = next((s for s in r["stages"] if s["stage"] == name), None)
            if stage is None:
                cells.append(f"{'':>16}{'':>8}{'':>8}")
                continue
            ratio = "" if stage["ratio_to_floor"] is None else f"{stage['ratio_to_floor']:.1f}"
            cells.append(f"{stage['seconds']:>16.1f}{stage['peak_rss_mib']:>8,.0f}{ratio:>8}")
        lines.append(f"{name:<30}" + "".join(cells))
    return "\n".join(lines)


def _sizes(value: str) -> list[int]:
    try:
        sizes = [int(v.replace("_", "")) for v in value.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--sizes takes customer counts like 100000,300000; got {value!r}"
        ) from None
    if not sizes or min(sizes) <= 0:
        raise argparse.ArgumentTypeError("--sizes needs at least one positive customer count")
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="powerseg_cli.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument(
        "--sizes",
        type=_sizes,
        help="customer counts side by side, e.g. 100000,300000 (each in <data-dir>/<N>x<M>)",
    )
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--data-dir", help="work folder (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--skip", action="append", default=[], help="stage to skip (repeatable)")
    args = parser.parse_args(argv)

    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="powerseg-bench-")).resolve()
    temporary = args.data_dir is None and not args.keep
    # a temporary folder is deleted afterwards: the report then goes to the usual data folder
    reports_dir = (Settings.from_env().data_dir if temporary else data_dir) / "reports"
    reports_dir.mkdir(parents=True, exist_ok=True)
    sizes = args.sizes or [args.customers]
    reports = []
    for customers in sizes:
        folder = data_dir / f"{customers}x{args.months}" if args.sizes else data_dir
        report = run_size(folder, customers, args.months, args.skip)
        path = reports_dir / f"bench-{customers}x{args.months}.json"
        path.write_text(json.dumps(report, indent=2))
        print(f"report: {path.resolve()}")
        reports.append(report)
    if len(reports) > 1:
        print(f"\n{side_by_side(reports)}")
        path = reports_dir / f"bench-sizes-{'-'.join(map(str, sizes))}x{args.months}.json"
        path.write_text(json.dumps({"sizes": reports}, indent=2))
        print(f"report: {path.resolve()}")
    if temporary:
        shutil.rmtree(data_dir, ignore_errors=True)
    ok = all(s["ok"] for r in reports for s in r["stages"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
