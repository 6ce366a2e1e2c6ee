"""The command's settings, written to the process environment for the in-process Dagster run, and
the local Dagster instance (DAGSTER_HOME/dagster.yaml) of the data folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from powerseg.settings import Settings

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


def command_settings(data_dir: str | None, source: str | None = None) -> Settings:
    """The settings of this command (`--data-dir`, `--source` over the environment), written to
    os.environ: Dagster runs in this process, and its assets, resources and dbt subprocesses read
    `Settings.from_env()` when they run."""
    if data_dir:
        os.environ["POWERSEG_DATA_DIR"] = str(Path(data_dir).resolve())
    if source:
        os.environ["POWERSEG_SOURCE"] = source
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
