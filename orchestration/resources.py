"""Resources of the code location (warehouse, landing folder, dbt, MLflow), configured from the
environment with local defaults, so production only changes variables (see powerseg/settings.py).
"""

from __future__ import annotations

import fcntl
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster._utils.env import using_dagster_dev
from dagster_dbt import DbtCliResource, DbtProject

from powerseg.settings import DEFAULT_MLFLOW_UI_URL, Settings, duckdb_resource_sql

REPO_DIR = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_DIR / "dbt_project"


class WarehouseBusyError(RuntimeError):
    """Another process holds the DuckDB write lock."""


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file. DuckDB allows one writer per file, so writers wait for the lock
    (up to `lock_timeout_seconds`) and then fail with a message naming the holder."""

    path: str
    lock_timeout_seconds: float = 120.0

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.lock_timeout_seconds
        while True:
            try:
                con = duckdb.connect(self.path, read_only=read_only)
                break
            except duckdb.ConnectionException as exc:
                # This process already holds the file read-write (e.g. dagster-dbt's row counts):
                # DuckDB shares one instance per process, so join it instead of a second config.
                if not read_only or "different configuration" not in str(exc):
                    raise
                con = duckdb.connect(self.path)
                break
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower():
                    raise
                if time.monotonic() >= deadline:
                    raise WarehouseBusyError(
                        f"the warehouse {self.path} is locked by another process and stayed "
                        f"locked for {self.lock_timeout_seconds:.0f} s; only one run may write "
                        f"it at a time. DuckDB said: {exc}"
                    ) from exc
                time.sleep(1.0)
        try:
            for statement in duckdb_resource_sql(Settings.from_env()):
                con.execute(statement)
            yield con
        finally:
            con.close()


class LandingResource(dg.ConfigurableResource):
    """Where the raw extract lands, and who produces it: the simulator (demo) or the utility."""

    raw_dir: str
    truth_dir: str
    source: str = "landing"  # "simulator": demo mode, an empty folder gets a demo extract
    sim_customers: int = 5000
    sim_months: int = 24
    sim_seed: int = 42
    sim_end_month: str = "2026-10"


class MlflowResource(dg.ConfigurableResource):
    tracking_uri: str
    artifact_dir: str
    # where people open the runs: a tracking server's own URL, else POWERSEG_MLFLOW_UI_URL
    ui_url: str = DEFAULT_MLFLOW_UI_URL

    def run_url(self, experiment_id: str, run_id: str) -> str:
        base = (
            self.tracking_uri
            if self.tracking_uri.startswith(("http://", "https://"))
            else self.ui_url
        )
        return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


def mlflow_run_tags(context: dg.AssetExecutionContext, month) -> dict[str, str]:
    """Tags tying an MLflow run to what produced it: the Dagster run, the month, the code."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        code = version("powerseg")
    except PackageNotFoundError:
        code = "unknown"
    return {
        "dagster.run_id": context.run_id,
        "dagster.partition": f"{month:%Y-%m}",
        "dagster.job": context.job_name or "",
        "powerseg.code_version": code,
    }


dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR)


def dbt_executable() -> str:
    """The dbt of this environment, found without relying on PATH (cron, `uv run`, tests)."""
    beside_python = Path(sys.executable).parent / "dbt"
    return str(beside_python) if beside_python.exists() else (shutil.which("dbt") or "dbt")


def _manifest_is_stale() -> bool:
    manifest = dbt_project.manifest_path
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    sources = [DBT_PROJECT_DIR / "dbt_project.yml", DBT_PROJECT_DIR / "profiles.yml"]
    for folder in ("models", "seeds", "macros", "tests"):
        sources += (DBT_PROJECT_DIR / folder).rglob("*")
    return any(p.stat().st_mtime > built for p in sources if p.is_file())


def ensure_dbt_manifest(force: bool = False) -> Path:
    """Parse the dbt project when the manifest is missing (fresh clone) or older than a project
    file, under `dagster dev`, or when asked; with this environment's dbt, so PATH is not needed.

    Processes that start together (a run beside `dagster dev`, parallel test workers) take turns:
    the first parses, the others find a fresh manifest once it is done."""
    if not (force or using_dagster_dev() or _manifest_is_stale()):
        return dbt_project.manifest_path
    target = Path(dbt_project.project_dir) / dbt_project.target_path
    target.mkdir(parents=True, exist_ok=True)
    with (target / ".parse.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if force or using_dagster_dev() or _manifest_is_stale():
            DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable()).cli(
                ["parse", "--quiet"], target_path=dbt_project.target_path
            ).wait()
    return dbt_project.manifest_path


def build_resources(settings: Settings | None = None) -> dict[str, dg.ConfigurableResource]:
    settings = settings or Settings.from_env()
    return {
        "warehouse": WarehouseResource(path=str(settings.warehouse_path)),
        "landing": LandingResource(
            raw_dir=str(settings.raw_dir),
            truth_dir=str(settings.truth_dir),
            source=settings.source,
        ),
        "dbt": DbtCliResource(
            project_dir=dbt_project,
            dbt_executable=dbt_executable(),
            profiles_dir=str(DBT_PROJECT_DIR),
            target="prod" if settings.env == "prod" else "local",
        ),
        "mlflow": MlflowResource(
            tracking_uri=settings.mlflow_tracking_uri,
            artifact_dir=settings.mlflow_artifact_root,
            ui_url=settings.mlflow_ui_url,
        ),
    }
