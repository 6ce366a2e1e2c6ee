"""Shared fixtures: one small simulated extract, its two months run one by one (`pipeline_run`)
and backfilled then re-run in another folder (`backfill_run`), plus how the suite spreads over
pytest-xdist workers.

Sizes are small enough for CI and large enough for the models to find what the simulator planted;
POWERSEG_TEST_CUSTOMERS overrides the customer count. Under xdist (`make test`) the extract and
the backfill are built once for all workers; the monthly runs belong to the tests that read them,
which run together on one worker (xdist group `pipeline`), the backfill's readers on another
(group `backfill`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import duckdb
import pandas as pd
import pytest
from filelock import FileLock

from powerseg_cli.exit_status import EXIT_LOCKED

REPO = Path(__file__).resolve().parent.parent
TEST_CUSTOMERS = int(os.environ.get("POWERSEG_TEST_CUSTOMERS", "6000"))
TEST_MONTHS = 18
TEST_SEED = 7

# Groups that hold the suite's long fixtures, handed out first so each starts at once on a
# worker of its own; every other test is grouped with its module (its module fixtures are built
# once), and those groups fill the workers as they free up.
LONG_GROUPS = ("pipeline", "backfill")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
    order = {group: i for i, group in enumerate(LONG_GROUPS)}

    def rank(item) -> int:
        return order.get(item.get_closest_marker("xdist_group").args[0], len(order))

    items.sort(key=rank)  # stable: the rest keep their collection order


def pytest_collection_finish(session):
    # xdist tells its scheduler a test's group through a suffix of the node id; when a pytest
    # release stops that from taking (pytest 9.2, pytest-dev/pytest-xdist#1386) the groups are
    # silently ignored and every worker builds the long fixtures again.
    if getattr(session.config.option, "loadgroup", False):
        ungrouped = [item.nodeid for item in session.items if "@" not in item.nodeid]
        if ungrouped:
            raise pytest.UsageError(
                f"pytest-xdist did not group {len(ungrouped)} tests (e.g. {ungrouped[0]}) with "
                f"this pytest: see the pin in pyproject.toml"
            )


@dataclass(frozen=True)
class DataFolder:
    data_dir: Path
    raw_dir: Path
    truth_dir: Path

    @property
    def warehouse(self) -> Path:
        return self.data_dir / "warehouse.duckdb"

    def connect(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.warehouse), read_only=True)


def build_once(tmp_path_factory, name: str, build: Callable[[Path], dict]) -> tuple[Path, dict]:
    """`build(folder)` run once for the whole test session, by whichever worker asks first; the
    others wait for it and get the same folder and the (JSON-able) result. Without xdist it is
    a plain session fixture. A build that failed fails every later asker with its message."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the workers' temp folders share this parent
    folder, done, failed = root / name, root / f"{name}.json", root / f"{name}.failed"
    with FileLock(str(root / f"{name}.lock")):
        if failed.exists():
            raise AssertionError(f"{name} could not be built: {failed.read_text()}")
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            try:
                result = build(folder)
            except BaseException as exc:
                failed.write_text(f"{type(exc).__name__}: {exc}")
                raise
            done.write_text(json.dumps(result))
    return folder, json.loads(done.read_text())


@pytest.fixture(scope="session")
def sim_extract(tmp_path_factory) -> Path:
    """The session extract: raw/ and truth/ of TEST_CUSTOMERS customers over TEST_MONTHS."""

    def simulate_extract(folder: Path) -> dict:
        from simulator import simulate

        simulate(
            folder, customers=TEST_CUSTOMERS, months=TEST_MONTHS, seed=TEST_SEED, progress=False
        )
        return {}

    folder, _ = build_once(tmp_path_factory, "extract", simulate_extract)
    return folder


def powerseg_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "powerseg_cli.main", *args]


def powerseg_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(powerseg_command(*args), env=env, capture_output=True, text=True)


def landing_env(data_dir: Path, raw_dir: Path) -> dict[str, str]:
    """Environment of a `powerseg run` on the landing folder `raw_dir` into `data_dir`."""
    env = dict(
        os.environ,
        POWERSEG_DATA_DIR=str(data_dir),
        POWERSEG_RAW_DIR=str(raw_dir),
        POWERSEG_SOURCE="landing",
        DAGSTER_HOME=str(data_dir / "dagster"),
    )
    for name in ("MLFLOW_TRACKING_URI", "POWERSEG_WAREHOUSE"):
        env.pop(name, None)
    return env


def require_success(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    if result.returncode != 0:
        raise AssertionError(
            f"{' '.join(result.args[3:])} failed:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
        )
    return result


PREVIOUS_MONTH, NEWEST_MONTH = "2026-09", "2026-10"  # the session extract ends with October 2026
MONTHS = (PREVIOUS_MONTH, NEWEST_MONTH)
# The marts every monthly build writes, one row per active customer and as-of month.
MARTS = (
    "customer_360",
    "fct_features_contribution",
    "fct_features_outage_sensitivity",
    "fct_features_arrears",
    "fct_features_channel_activity",
    "fct_features_inspection",
    "fct_outcomes",
)

# What a run writes for its months, compared across runs.
MONTH_TABLES = (
    "marts.customer_360",
    "marts.fct_features_arrears",
    "marts.fct_outcomes",
    "scores.contribution_scores",
    "scores.outage_sensitivity_scores",
    "scores.arrears_scores",
    "scores.channel_activity_scores",
    "scores.inspection_scores",
    "marts.customer_factor_scores",
)


@dataclass(frozen=True)
class PipelineRun(DataFolder):
    """A data folder the session's runs left behind, with each run's result (`steps`) and what
    the warehouse held for MONTHS after it (`contents`)."""

    steps: dict
    contents: dict

    @property
    def result(self) -> subprocess.CompletedProcess:
        """The newest month's `powerseg run` (no --as-of), as a scheduler calls it."""
        return self.steps["newest"]


@pytest.fixture(scope="session")
def pipeline_run(sim_extract, tmp_path_factory) -> PipelineRun:
    """The session extract's two months run one by one, as a utility runs them:

    1. `concurrent`: the previous month, launched twice at once; one run writes, one is refused;
    2. `newest`: `powerseg run` (no --as-of: the newest complete month).

    Read by the tests of what monthly runs leave behind (marts, scores, MLflow versions, the UIs),
    of one writer, and of a backfill against running its months one by one."""
    data_dir = tmp_path_factory.mktemp("pipeline")
    raw_dir = sim_extract / "raw"
    env = landing_env(data_dir, raw_dir)
    steps: dict = {}
    contents: dict = {}

    command = powerseg_command("run", "--as-of", PREVIOUS_MONTH)
    procs = [
        subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    # communicate() drains the pipes: wait() alone would deadlock on a chatty run's full pipe.
    outputs = [p.communicate() for p in procs]
    steps["concurrent"] = [
        subprocess.CompletedProcess(command, p.returncode, *out)
        for p, out in zip(procs, outputs, strict=True)
    ]
    for result in steps["concurrent"]:
        if result.returncode != EXIT_LOCKED:
            require_success(result)
    contents["concurrent"] = month_contents(data_dir)
    steps["newest"] = require_success(powerseg_cli("run", env=env))
    contents["newest"] = month_contents(data_dir)
    return PipelineRun(data_dir, raw_dir, sim_extract / "truth", steps, contents)


def month_contents(data_dir: Path, months: tuple[str, ...] = MONTHS) -> dict:
    """What the warehouse of `data_dir` holds for `months`, table by table of MONTH_TABLES."""
    return table_month_contents(data_dir / "warehouse.duckdb", MONTH_TABLES, months)


def outcome(result: subprocess.CompletedProcess) -> dict:
    return {"returncode": result.returncode, "stdout": result.stdout, "stderr": result.stderr}


@dataclass(frozen=True)
class BackfillRun(DataFolder):
    """`powerseg backfill` of MONTHS on the session extract, in a data folder of its own, then the
    newest month run again there twice: with the MLflow server unreachable (`tracking_down`, it
    fails midway, after dbt rebuilt the marts), then re-executed (`rerun`). `changed_by` names,
    for each of the two, the (table, month) pairs of MONTH_TABLES x MONTHS that differ from what
    the backfill left (compared as MonthContent)."""

    backfill: dict
    tracking_down: dict
    rerun: dict
    changed_by: dict

    @property
    def returncode(self) -> int:
        return self.backfill["returncode"]


@pytest.fixture(scope="session")
def backfill_run(sim_extract, tmp_path_factory) -> BackfillRun:
    """Built once for all workers, beside the pipeline history on another one; nothing writes
    its folder afterwards."""
    raw_dir = sim_extract / "raw"

    def backfill_and_rerun(folder: Path) -> dict:
        env = landing_env(folder, raw_dir)
        backfill = powerseg_cli("backfill", "--from", PREVIOUS_MONTH, "--to", NEWEST_MONTH, env=env)
        result = {"backfill": outcome(backfill), "tracking_down": {}, "rerun": {}, "changed_by": {}}
        if backfill.returncode != 0:
            return result
        backfilled = month_contents(folder)
        tracking_down = {
            "MLFLOW_TRACKING_URI": "http://127.0.0.1:9",  # nothing listens there
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
            "MLFLOW_HTTP_REQUEST_TIMEOUT": "3",
        }
        for label, extra in (("tracking_down", tracking_down), ("rerun", {})):
            run = powerseg_cli("run", "--as-of", NEWEST_MONTH, env=env | extra)
            after = month_contents(folder)
            result[label] = outcome(run)
            result["changed_by"][label] = [
                list(key) for key in backfilled if backfilled[key] != after[key]
            ]
        return result

    folder, result = build_once(tmp_path_factory, "backfill", backfill_and_rerun)
    return BackfillRun(folder, raw_dir, sim_extract / "truth", **result)


@pytest.fixture(scope="session")
def built_warehouse(backfill_run) -> BackfillRun:
    """The marts and scores of the session's backfill and its re-runs (the models' recovery tests
    and the output tests read them)."""
    assert backfill_run.returncode == 0, backfill_run.backfill["stderr"][-4000:]
    return backfill_run


class MonthContent(NamedTuple):
    """One table's rows of one as-of month. Two compare equal when they hold the same rows:
    every column exactly, except doubles, which agree to 1e-6 relative. DuckDB's parallel sums
    of doubles differ in the last bits from run to run (and a model fed them moves by ~1e-9), so
    no rounding of them hashes stably: a value can always sit on a rounding edge."""

    rows: int
    frame: pd.DataFrame

    def __eq__(self, other) -> bool:
        if not isinstance(other, MonthContent) or self.rows != other.rows:
            return False
        if list(self.frame.columns) != list(other.frame.columns):
            return False
        try:
            pd.testing.assert_frame_equal(
                self.frame, other.frame, check_exact=False, rtol=1e-6, atol=1e-9
            )
        except AssertionError:
            return False
        return True

    def __ne__(self, other) -> bool:
        return not self == other

    __hash__ = None


def table_month_contents(warehouse: Path, tables, months) -> dict[tuple[str, str], MonthContent]:
    """(table, 'YYYY-MM') -> that as-of month's rows, in a fixed order."""
    import datetime as dt

    out = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for table in tables:
            for month in months:
                frame = con.execute(
                    f"select * from {table} where cast(as_of_month as date) = ?",
                    [dt.date.fromisoformat(f"{month}-01")],
                ).df()
                exact = [c for c in frame.columns if frame[c].dtype.kind != "f"]
                frame = frame.sort_values(exact, ignore_index=True) if exact else frame
                out[table, month] = MonthContent(len(frame), frame)
    return out
