"""Dagster and MLflow in PostgreSQL: `powerseg run` with POWERSEG_DAGSTER_PG_URL and a
postgresql:// MLFLOW_TRACKING_URI keeps its runs, events, experiments, model versions and the
champion alias in a throwaway PostgreSQL 15 server, and nothing in the local SQLite files."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from tests.conftest import landing_env, powerseg_command, require_success
from tests.postgres import missing_binaries, throwaway_postgres

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(missing_binaries() is not None, reason=str(missing_binaries())),
]

FACTORS = ("contribution", "outage_sensitivity", "arrears", "channel_activity", "inspection")


@pytest.fixture(scope="module")
def postgres():
    with throwaway_postgres("dagster", "mlflow") as server:
        yield server


def test_a_run_keeps_dagster_and_mlflow_in_postgres(postgres, tmp_path):
    from simulator import simulate

    simulate(tmp_path / "landing", customers=1500, months=12, seed=3, progress=False)
    data = tmp_path / "data"
    env = landing_env(data, tmp_path / "landing" / "raw") | {
        "POWERSEG_DAGSTER_PG_URL": postgres.url("dagster"),
        "MLFLOW_TRACKING_URI": postgres.url("mlflow"),
        "MLFLOW_ARTIFACT_ROOT": str(tmp_path / "artifacts"),
    }
    result = require_success(
        subprocess.run(
            powerseg_command("run", "--as-of", "2026-10"),
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
    )
    assert "powerseg run succeeded for 2026-10" in result.stdout

    # the instance names the storage by environment variable, never the URL itself
    config = (data / "dagster" / "dagster.yaml").read_text()
    assert yaml.safe_load(config)["storage"] == {
        "postgres": {"postgres_url": {"env": "POWERSEG_DAGSTER_PG_URL"}}
    }
    assert "127.0.0.1" not in config
    runs = postgres.query("dagster", "select status from runs")
    assert runs == [("SUCCESS",)]
    (events,) = postgres.query("dagster", "select count(*) from event_logs")[0]
    assert events > 100
    assert not list((data / "dagster").rglob("*.db"))  # no SQLite run or event storage

    experiments = {name for (name,) in postgres.query("mlflow", "select name from experiments")}
    assert {f"powerseg-{factor}" for factor in FACTORS} <= experiments
    registered = {name for (name,) in postgres.query("mlflow", "select name from model_versions")}
    assert registered == {f"powerseg_{factor}" for factor in FACTORS}
    # a version takes the champion alias only when it passes the quality floors
    champions = dict(
        postgres.query(
            "mlflow", "select name, version from registered_model_aliases where alias = 'champion'"
        )
    )
    assert {"powerseg_contribution", "powerseg_channel_activity"} <= set(champions) <= registered
    locations = postgres.query(
        "mlflow", "select artifact_location from experiments where name like 'powerseg-%'"
    )
    assert all(str(tmp_path / "artifacts") in location for (location,) in locations)
    assert any((tmp_path / "artifacts").rglob("MLmodel"))  # the models' artifacts landed there
    assert not (data / "mlflow" / "mlflow.db").exists()
