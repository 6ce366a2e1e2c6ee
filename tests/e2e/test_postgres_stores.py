"""Dagster and MLflow in PostgreSQL: `powerseg run` with POWERSEG_DAGSTER_PG_URL and a
postgresql:// MLFLOW_TRACKING_URI keeps its runs, events, experiments, model versions and the
champion alias in a throwaway PostgreSQL 15 server, and nothing in the local SQLite files; its
steps run in processes of their own, one warehouse step at a time."""

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


def step_spans(postgres) -> dict[str, tuple[int, float, float]]:
    """step key -> (process id, start, end) from the run's events in PostgreSQL."""
    from dagster._serdes import deserialize_value

    spans: dict[str, list] = {}
    for step, kind, event in postgres.query(
        "dagster",
        "select step_key, dagster_event_type, event from event_logs "
        "where dagster_event_type in ('STEP_START', 'STEP_SUCCESS') order by id",
    ):
        entry = deserialize_value(event)
        span = spans.setdefault(step, [None, None, None])
        if kind == "STEP_START":
            span[0], span[1] = entry.dagster_event.pid, entry.timestamp
        else:
            span[2] = entry.timestamp
    return {step: tuple(span) for step, span in spans.items()}


def warehouse_steps() -> set[str]:
    from orchestration.definitions import defs

    return {
        assets_def.node_def.name
        for assets_def in defs.get_repository_def().asset_graph.assets_defs
        if assets_def.is_executable and assets_def.node_def.pool == "warehouse"
    }


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
    steps = step_spans(postgres)
    assert len({pid for pid, _, _ in steps.values()}) == len(steps) > 40  # a process per step
    # the one-slot warehouse pool: no two steps that open DuckDB ever ran at the same time
    pooled = sorted(span[1:] for step, span in steps.items() if step in warehouse_steps())
    assert len(pooled) > 35
    overlaps = [(a, b) for a, b in zip(pooled, pooled[1:], strict=False) if b[0] < a[1]]
    assert overlaps == []

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
