"""Where a run reads and writes: one data folder, every location overridable by environment.

`POWERSEG_DATA_DIR` (default `./data`) holds raw/, truth/, warehouse.duckdb, mlflow/, dagster/,
exports/, reports/; the other variables move single locations (e.g. a production landing folder).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# The languages staff outputs are written in (POWERSEG_LOCALE); display texts are in the seeds.
LOCALES = ("zh-CN", "en")
DEFAULT_LOCALE = "zh-CN"


def check_locale(locale: str) -> str:
    if locale not in LOCALES:
        raise ValueError(
            f"POWERSEG_LOCALE={locale!r} is not a supported locale; use one of {', '.join(LOCALES)}"
        )
    return locale


# DuckDB caches up to 80 % of RAM by default; every connection powerseg opens (dbt through its
# profile, the Python assets and the quality gates through `duckdb_memory_limit`) is bounded
# instead, and spills to disk past the limit. POWERSEG_DUCKDB_MEMORY_LIMIT overrides it.
DEFAULT_DUCKDB_MEMORY_LIMIT = "3GB"


def duckdb_memory_limit(environ: dict[str, str] | None = None) -> str:
    """The DuckDB memory limit (e.g. '3GB'), for `SET memory_limit = ...` on a new connection."""
    env = os.environ if environ is None else environ
    return env.get("POWERSEG_DUCKDB_MEMORY_LIMIT", DEFAULT_DUCKDB_MEMORY_LIMIT)


def default_artifact_root(tracking_uri: str, mlflow_dir: Path) -> str:
    """Where MLflow artifacts go when MLFLOW_ARTIFACT_ROOT is not set: beside a SQLite store's
    file, else under the data folder's mlflow/ (a database or server store has no folder)."""
    if tracking_uri.startswith("sqlite:///"):
        return str(Path(tracking_uri.removeprefix("sqlite:///")).parent / "mlartifacts")
    return str(mlflow_dir / "mlartifacts")


@dataclass(frozen=True)
class Settings:
    env: str
    data_dir: Path
    raw_dir: Path
    truth_dir: Path
    warehouse_path: Path
    mlflow_dir: Path
    mlflow_tracking_uri: str
    mlflow_artifact_root: str  # a folder or an object-store URI (MLFLOW_ARTIFACT_ROOT)
    dagster_home: Path
    exports_dir: Path
    reports_dir: Path
    # "landing" (default): files delivered by the utility, never touched; "simulator": demo
    # mode, an empty landing folder gets a simulated demo extract (`powerseg run --demo`).
    source: str
    # Dagster's run, event-log and schedule storage in PostgreSQL instead of SQLite files under
    # DAGSTER_HOME (POWERSEG_DAGSTER_PG_URL, e.g. postgresql://user:pw@host:5432/dagster).
    dagster_pg_url: str | None = None
    # The language of staff outputs (labels, segment names, actions, report, portrait export):
    # POWERSEG_LOCALE, zh-CN (default) or en. Codes in the tables never change with it.
    locale: str = "zh-CN"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("POWERSEG_DATA_DIR", "data")).resolve()
        mlflow_dir = Path(env.get("POWERSEG_MLFLOW_DIR", data_dir / "mlflow")).resolve()
        powerseg_env = env.get("POWERSEG_ENV", "local")
        tracking_uri = env.get("MLFLOW_TRACKING_URI", f"sqlite:///{mlflow_dir / 'mlflow.db'}")
        return cls(
            env=powerseg_env,
            data_dir=data_dir,
            raw_dir=Path(env.get("POWERSEG_RAW_DIR", data_dir / "raw")).resolve(),
            truth_dir=Path(env.get("POWERSEG_TRUTH_DIR", data_dir / "truth")).resolve(),
            warehouse_path=Path(
                env.get("POWERSEG_WAREHOUSE", data_dir / "warehouse.duckdb")
            ).resolve(),
            mlflow_dir=mlflow_dir,
            mlflow_tracking_uri=tracking_uri,
            mlflow_artifact_root=env.get("MLFLOW_ARTIFACT_ROOT")
            or default_artifact_root(tracking_uri, mlflow_dir),
            dagster_home=Path(env.get("DAGSTER_HOME", data_dir / "dagster")).resolve(),
            exports_dir=data_dir / "exports",
            reports_dir=data_dir / "reports",
            source=env.get("POWERSEG_SOURCE", "landing"),
            dagster_pg_url=env.get("POWERSEG_DAGSTER_PG_URL") or None,
            locale=check_locale(env.get("POWERSEG_LOCALE") or DEFAULT_LOCALE),
        )

    def export_env(self) -> dict[str, str]:
        """The variables child processes (dbt, the Dagster UI) need to agree on these locations."""
        optional = {"POWERSEG_DAGSTER_PG_URL": self.dagster_pg_url} if self.dagster_pg_url else {}
        return optional | {
            "POWERSEG_ENV": self.env,
            "POWERSEG_DATA_DIR": str(self.data_dir),
            "POWERSEG_RAW_DIR": str(self.raw_dir),
            "POWERSEG_TRUTH_DIR": str(self.truth_dir),
            "POWERSEG_WAREHOUSE": str(self.warehouse_path),
            "POWERSEG_MLFLOW_DIR": str(self.mlflow_dir),
            "MLFLOW_TRACKING_URI": self.mlflow_tracking_uri,
            "MLFLOW_ARTIFACT_ROOT": self.mlflow_artifact_root,
            "DAGSTER_HOME": str(self.dagster_home),
            "POWERSEG_SOURCE": self.source,
            "POWERSEG_LOCALE": self.locale,
        }
