"""Where a run reads and writes and how it behaves: every POWERSEG_* variable, read once, here.

`POWERSEG_DATA_DIR` (default `./data`) holds raw/, truth/, warehouse.duckdb, mlflow/, dagster/,
exports/, reports/; the other variables move single locations (e.g. a production landing folder)
or set a limit. Modules take these values from a `Settings`, never from the environment.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

# The languages staff outputs are written in (POWERSEG_LOCALE); display texts are in the seeds.
LOCALES = ("zh-CN", "en")
DEFAULT_LOCALE = "zh-CN"

# DuckDB caches up to 80 % of RAM by default; every connection powerseg opens (dbt through its
# profile, the Python assets and the quality gates through `duckdb_resource_sql`) is bounded
# instead, and spills to `<warehouse>.tmp` past the limit. The default is a quarter of the
# machine's RAM, between 1 and 4 GB (4 GB on a 24 GiB machine, so that a run's whole process tree
# stays within 8 GiB); POWERSEG_DUCKDB_MEMORY_LIMIT overrides it.
MIN_DUCKDB_MEMORY_GB, MAX_DUCKDB_MEMORY_GB = 1, 4


def default_duckdb_memory_limit(total_bytes: int | None = None) -> str:
    """A quarter of the machine's RAM (`total_bytes`, default psutil's), 1 to 4 GB."""
    if total_bytes is None:
        import psutil

        total_bytes = psutil.virtual_memory().total
    quarter = int(total_bytes / 2**30 // 4)
    return f"{max(MIN_DUCKDB_MEMORY_GB, min(MAX_DUCKDB_MEMORY_GB, quarter))}GB"


DEFAULT_DUCKDB_MEMORY_LIMIT = default_duckdb_memory_limit()
# A number and DuckDB's unit ('3GB', '512MiB', '3 gigabytes'), or -1 for no limit.
MEMORY_LIMIT_PATTERN = re.compile(r"^(-1|\d+(\.\d+)?\s*[A-Za-z]+)$")
# The extract for month M is complete after its last day and due in the first days of M+1; the
# scheduled run on the 3rd of M+2 (33-34 days later) fails the freshness check if M+1 never landed.
DEFAULT_EXTRACT_MAX_AGE_DAYS = 32
# Outputs are rebuilt monthly; a month and a few days of grace.
DEFAULT_OUTPUT_MAX_AGE_DAYS = 35
# The contract's timestamps are local wall-clock time of the utility (China Standard Time unless
# POWERSEG_SOURCE_TIMEZONE says otherwise); time-zone-aware columns are converted to it on load.
DEFAULT_SOURCE_TIMEZONE = "Asia/Shanghai"
DEFAULT_MLFLOW_UI_URL = "http://127.0.0.1:5000"  # what `make mlflow` serves
# The engines the dbt project runs on (POWERSEG_ENGINE) and, per engine, the dbt profile's
# targets (dbt_project/profiles.yml), its first being the default; the project's development salt.
ENGINES = ("duckdb", "spark")
ENGINE_DBT_TARGETS = {
    "duckdb": ("local", "prod"),
    # a local Spark session (tested), a Spark Thrift server, Databricks SQL over HTTP
    "spark": ("spark", "spark_thrift", "spark_http"),
}
DBT_TARGETS = tuple(t for targets in ENGINE_DBT_TARGETS.values() for t in targets)
DEFAULT_PII_SALT = "powerseg-dev-salt"
MONTH_PATTERN = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def check_locale(locale: str) -> str:
    if locale not in LOCALES:
        raise ValueError(
            f"POWERSEG_LOCALE={locale!r} is not a supported locale; use one of {', '.join(LOCALES)}"
        )
    return locale


def duckdb_resource_sql(settings: Settings) -> list[str]:
    """The statements that bound a new DuckDB connection. Past the limit DuckDB spills to
    `<warehouse>.tmp` beside the warehouse file, its default for a database file; that folder is
    not set here, because DuckDB refuses to switch it once a connection has spilled."""
    return [f"SET memory_limit = '{settings.duckdb_memory_limit}'"]


def default_artifact_root(tracking_uri: str, mlflow_dir: Path) -> str:
    """Where MLflow artifacts go when MLFLOW_ARTIFACT_ROOT is not set: beside a SQLite store's
    file, else under the data folder's mlflow/ (a database or server store has no folder)."""
    if tracking_uri.startswith("sqlite:///"):
        return str(Path(tracking_uri.removeprefix("sqlite:///")).parent / "mlartifacts")
    return str(mlflow_dir / "mlartifacts")


def _text(env: Mapping[str, str], name: str) -> str:
    return env.get(name, "").strip()


def _days(env: Mapping[str, str], name: str, default: int) -> int:
    value = _text(env, name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ValueError(f"{name} must be a whole number of days, got {value!r}") from exc


def _first_as_of_month(env: Mapping[str, str]) -> str | None:
    value = _text(env, "POWERSEG_FIRST_AS_OF_MONTH")
    if value and not MONTH_PATTERN.match(value):
        raise ValueError(f"POWERSEG_FIRST_AS_OF_MONTH must look like 'YYYY-MM', got {value!r}")
    return value or None


def _reference_date(env: Mapping[str, str]) -> dt.date | None:
    value = _text(env, "POWERSEG_FRESHNESS_REFERENCE_DATE")
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(
            f"POWERSEG_FRESHNESS_REFERENCE_DATE must be a date as YYYY-MM-DD, got {value!r}"
        ) from exc


def _memory_limit(env: Mapping[str, str]) -> str:
    value = _text(env, "POWERSEG_DUCKDB_MEMORY_LIMIT") or DEFAULT_DUCKDB_MEMORY_LIMIT
    # The value goes into `SET memory_limit = '...'` and the dbt profile: a size, nothing else.
    if not MEMORY_LIMIT_PATTERN.match(value):
        raise ValueError(
            f"POWERSEG_DUCKDB_MEMORY_LIMIT must be a size such as '3GB' or '512MiB', got {value!r}"
        )
    return value


def _source_timezone(env: Mapping[str, str]) -> str:
    value = _text(env, "POWERSEG_SOURCE_TIMEZONE") or DEFAULT_SOURCE_TIMEZONE
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"POWERSEG_SOURCE_TIMEZONE must be an IANA time zone such as 'Asia/Shanghai', "
            f"got {value!r}"
        ) from exc
    return value


def _mlflow_ui_url(env: Mapping[str, str]) -> str:
    value = _text(env, "POWERSEG_MLFLOW_UI_URL") or DEFAULT_MLFLOW_UI_URL
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"POWERSEG_MLFLOW_UI_URL must be an http(s) URL, got {value!r}")
    return value


def _engine(env: Mapping[str, str]) -> str:
    value = _text(env, "POWERSEG_ENGINE") or ENGINES[0]
    if value not in ENGINES:
        raise ValueError(
            f"POWERSEG_ENGINE={value!r} is not an engine; use one of {', '.join(ENGINES)}"
        )
    return value


def _dbt_target(env: Mapping[str, str], engine: str) -> str:
    """The dbt target, which must be one of the engine's: a DuckDB target on Spark would build
    into a DuckDB file nobody reads."""
    targets = ENGINE_DBT_TARGETS[engine]
    value = env.get("POWERSEG_DBT_TARGET") or targets[0]
    if value not in DBT_TARGETS:
        raise ValueError(
            f"POWERSEG_DBT_TARGET={value!r} is not a target of dbt_project/profiles.yml; "
            f"use one of {', '.join(DBT_TARGETS)}"
        )
    if value not in targets:
        raise ValueError(
            f"POWERSEG_DBT_TARGET={value!r} is not a target of POWERSEG_ENGINE={engine!r}; "
            f"use one of {', '.join(targets)}"
        )
    return value


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
    # Spark's tables, each a folder of Parquet files (POWERSEG_LAKE_DIR, default <data>/lake).
    lake_dir: Path
    # "landing" (default): files delivered by the utility, never touched; "simulator": demo
    # mode, an empty landing folder gets a simulated demo extract (`powerseg run --demo`).
    source: str
    # Dagster's run, event-log and schedule storage in PostgreSQL instead of SQLite files under
    # DAGSTER_HOME (POWERSEG_DAGSTER_PG_URL, e.g. postgresql://user:pw@host:5432/dagster).
    dagster_pg_url: str | None = None
    # The language of staff outputs (labels, segment names, actions, report, portrait export):
    # POWERSEG_LOCALE, zh-CN (default) or en. Codes in the tables never change with it.
    locale: str = DEFAULT_LOCALE
    duckdb_memory_limit: str = DEFAULT_DUCKDB_MEMORY_LIMIT
    # The time zone of the source system's wall-clock timestamps (POWERSEG_SOURCE_TIMEZONE).
    source_timezone: str = DEFAULT_SOURCE_TIMEZONE
    # Where people open MLflow runs when the tracking URI is not a server (POWERSEG_MLFLOW_UI_URL).
    mlflow_ui_url: str = DEFAULT_MLFLOW_UI_URL
    # Freshness: an extract older than this is late, and so is an output not rebuilt within the
    # other; the reference date replaces today (replaying history, tests).
    extract_max_age_days: int = DEFAULT_EXTRACT_MAX_AGE_DAYS
    output_max_age_days: int = DEFAULT_OUTPUT_MAX_AGE_DAYS
    freshness_reference_date: dt.date | None = None
    # The first as-of month offered as a partition, instead of the one the extract allows.
    first_as_of_month: str | None = None
    # The engine dbt builds on (POWERSEG_ENGINE): "duckdb" (the warehouse file) or "spark"
    # (tables as Parquet folders under lake_dir).
    engine: str = ENGINES[0]
    # Read by dbt only: the profile's target when dbt runs on its own (a Dagster run passes the
    # target of POWERSEG_ENV), and the salt of the identity hash (production sets its own).
    dbt_target: str = DBT_TARGETS[0]
    pii_salt: str = field(default=DEFAULT_PII_SALT, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("POWERSEG_DATA_DIR", "data")).resolve()
        mlflow_dir = Path(env.get("POWERSEG_MLFLOW_DIR", data_dir / "mlflow")).resolve()
        tracking_uri = env.get("MLFLOW_TRACKING_URI", f"sqlite:///{mlflow_dir / 'mlflow.db'}")
        warehouse = Path(env.get("POWERSEG_WAREHOUSE", data_dir / "warehouse.duckdb")).resolve()
        engine = _engine(env)
        return cls(
            env=env.get("POWERSEG_ENV", "local"),
            data_dir=data_dir,
            raw_dir=Path(env.get("POWERSEG_RAW_DIR", data_dir / "raw")).resolve(),
            truth_dir=Path(env.get("POWERSEG_TRUTH_DIR", data_dir / "truth")).resolve(),
            warehouse_path=warehouse,
            mlflow_dir=mlflow_dir,
            mlflow_tracking_uri=tracking_uri,
            mlflow_artifact_root=env.get("MLFLOW_ARTIFACT_ROOT")
            or default_artifact_root(tracking_uri, mlflow_dir),
            dagster_home=Path(env.get("DAGSTER_HOME", data_dir / "dagster")).resolve(),
            exports_dir=data_dir / "exports",
            reports_dir=data_dir / "reports",
            lake_dir=Path(env.get("POWERSEG_LAKE_DIR") or data_dir / "lake").resolve(),
            source=env.get("POWERSEG_SOURCE", "landing"),
            dagster_pg_url=env.get("POWERSEG_DAGSTER_PG_URL") or None,
            locale=check_locale(env.get("POWERSEG_LOCALE") or DEFAULT_LOCALE),
            duckdb_memory_limit=_memory_limit(env),
            source_timezone=_source_timezone(env),
            mlflow_ui_url=_mlflow_ui_url(env),
            extract_max_age_days=_days(
                env, "POWERSEG_EXTRACT_MAX_AGE_DAYS", DEFAULT_EXTRACT_MAX_AGE_DAYS
            ),
            output_max_age_days=_days(
                env, "POWERSEG_OUTPUT_MAX_AGE_DAYS", DEFAULT_OUTPUT_MAX_AGE_DAYS
            ),
            freshness_reference_date=_reference_date(env),
            first_as_of_month=_first_as_of_month(env),
            engine=engine,
            dbt_target=_dbt_target(env, engine),
            pii_salt=env.get("POWERSEG_PII_SALT", DEFAULT_PII_SALT),
        )

    def export_env(self) -> dict[str, str]:
        """The variables child processes (dbt, the Dagster UI and daemon) need to agree with
        these settings; the optional ones only when they are set."""
        optional = {
            "POWERSEG_DAGSTER_PG_URL": self.dagster_pg_url,
            "POWERSEG_FRESHNESS_REFERENCE_DATE": (
                self.freshness_reference_date.isoformat() if self.freshness_reference_date else None
            ),
            "POWERSEG_FIRST_AS_OF_MONTH": self.first_as_of_month,
        }
        return {name: value for name, value in optional.items() if value} | {
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
            "POWERSEG_DUCKDB_MEMORY_LIMIT": self.duckdb_memory_limit,
            "POWERSEG_SOURCE_TIMEZONE": self.source_timezone,
            "POWERSEG_MLFLOW_UI_URL": self.mlflow_ui_url,
            "POWERSEG_EXTRACT_MAX_AGE_DAYS": str(self.extract_max_age_days),
            "POWERSEG_OUTPUT_MAX_AGE_DAYS": str(self.output_max_age_days),
            "POWERSEG_ENGINE": self.engine,
            "POWERSEG_LAKE_DIR": str(self.lake_dir),
            "POWERSEG_DBT_TARGET": self.dbt_target,
            "POWERSEG_PII_SALT": self.pii_salt,
        }
