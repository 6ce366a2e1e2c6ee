"""Idempotency, recovery and one writer, through `powerseg run` on one small extract: two runs
launched together (one is refused), a run that fails midway and is re-executed, and a month
re-run that reproduces its outputs exactly while the other month stays untouched.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from ml.config import FACTORS
from simulator import simulate
from tests.conftest import MonthContent, table_month_contents

# Small: the runs' fixed costs dominate. A factor whose training months hold too few labels is
# skipped with its reason, which re-runs must reproduce like any other content.
CUSTOMERS, MONTHS, SEED = 800, 15, 29
MONTH_A, MONTH_B = "2026-06", "2026-07"
TABLES = [f"scores.{f}_scores" for f in FACTORS] + [
    "marts.customer_factor_scores",
    "marts.customer_360",
    "marts.fct_features_arrears",
]


def month_contents(warehouse, month: str) -> dict[str, MonthContent]:
    """Each table's rows of one as-of month (compared exactly, doubles to 1e-6 relative)."""
    contents = table_month_contents(warehouse, TABLES, (month,))
    return {table: value for (table, _), value in contents.items()}


def _env(data, **extra):
    env = dict(
        os.environ,
        POWERSEG_DATA_DIR=str(data),
        POWERSEG_SOURCE="landing",
        DAGSTER_HOME=str(data / "dagster"),
        **extra,
    )
    for name in ("POWERSEG_WAREHOUSE", "POWERSEG_RAW_DIR", "MLFLOW_TRACKING_URI"):
        if name not in extra:
            env.pop(name, None)
    return env


def _cmd(month):
    return [sys.executable, "-m", "powerseg.cli", "run", "--as-of", month]


def run(data, month, **extra) -> subprocess.CompletedProcess:
    return subprocess.run(_cmd(month), env=_env(data, **extra), capture_output=True, text=True)


@pytest.fixture(scope="module")
def reruns(tmp_path_factory):
    data = tmp_path_factory.mktemp("reruns")
    simulate(data, customers=CUSTOMERS, months=MONTHS, seed=SEED, progress=False)
    warehouse = data / "warehouse.duckdb"
    seen: dict = {"timings": {}}

    # 1. Two runs of month A launched together: one writes, the other is refused at once.
    started = time.monotonic()
    procs = [
        subprocess.Popen(
            _cmd(MONTH_A),
            env=_env(data),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    # communicate() drains the pipes: wait() alone would deadlock on a chatty run's full pipe.
    outputs = [p.communicate() for p in procs]
    seen["concurrent"] = [(p.returncode, *out) for p, out in zip(procs, outputs, strict=True)]
    seen["timings"]["concurrent A"] = time.monotonic() - started
    for code, _, err in seen["concurrent"]:
        if code not in (0, 75):
            pytest.fail(f"run {MONTH_A} failed:\n{err[-3000:]}")
    seen["A"] = month_contents(warehouse, MONTH_A)

    # 2. Month B with the tracking server down: fails after dbt rebuilt the marts.
    started = time.monotonic()
    seen["broken B"] = run(
        data,
        MONTH_B,
        MLFLOW_TRACKING_URI="http://127.0.0.1:9",  # nothing listens there
        MLFLOW_HTTP_REQUEST_MAX_RETRIES="0",
        MLFLOW_HTTP_REQUEST_TIMEOUT="3",
    )
    seen["timings"]["broken B"] = time.monotonic() - started
    seen["A after broken B"] = month_contents(warehouse, MONTH_A)

    # 3. Re-executed, it completes; 4. run again, it reproduces itself.
    for label in ("B", "B again"):
        started = time.monotonic()
        seen[f"run {label}"] = run(data, MONTH_B)
        seen["timings"][label] = time.monotonic() - started
        seen[label] = month_contents(warehouse, MONTH_B)
        seen[f"A after {label}"] = month_contents(warehouse, MONTH_A)
    print("run timings (s):", {k: round(v) for k, v in seen["timings"].items()})
    return seen


@pytest.mark.slow
def test_two_runs_launched_together_one_is_refused(reruns):
    codes = sorted(code for code, _, _ in reruns["concurrent"])
    assert codes == [0, 75], [err[-2000:] for _, _, err in reruns["concurrent"]]
    refused = next(err for code, _, err in reruns["concurrent"] if code == 75)
    assert "another powerseg run is writing this warehouse" in refused
    rows = reruns["A"]
    assert all(n > 0 for n, _ in rows.values()), rows  # the winner wrote a whole month


@pytest.mark.slow
def test_a_run_failing_midway_loses_nothing_and_can_be_re_executed(reruns):
    broken = reruns["broken B"]
    assert broken.returncode == 1
    assert "powerseg run FAILED" in broken.stderr and "scores__" in broken.stderr
    assert reruns["A after broken B"] == reruns["A"]
    assert reruns["run B"].returncode == 0, reruns["run B"].stderr[-3000:]
    assert all(n > 0 for n, _ in reruns["B"].values())


@pytest.mark.slow
def test_re_running_a_month_reproduces_it_and_leaves_the_other_untouched(reruns):
    assert reruns["run B again"].returncode == 0, reruns["run B again"].stderr[-3000:]
    assert reruns["B again"] == reruns["B"]
    assert reruns["A after B"] == reruns["A"]
    assert reruns["A after B again"] == reruns["A"]
