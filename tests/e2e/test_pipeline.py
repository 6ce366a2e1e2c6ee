"""The whole graph on a tiny extract in a temporary folder, in-process and through the CLI."""

import os
import subprocess
import sys

import dagster as dg
import duckdb
import pytest

from orchestration.assets.dbt import dbt_models
from orchestration.assets.sources import landing_extract, raw_tables
from orchestration.resources import build_resources
from powerseg.settings import Settings

MARTS = (
    "customer_360",
    "fct_features_contribution",
    "fct_features_outage_sensitivity",
    "fct_features_arrears",
    "fct_features_channel_activity",
    "fct_features_inspection",
    "fct_outcomes",
)


def _settings(data_dir, source="simulator"):
    return Settings.from_env({"POWERSEG_DATA_DIR": str(data_dir), "POWERSEG_SOURCE": source})


@pytest.mark.slow
def test_materialize_whole_graph_on_a_tiny_simulated_extract(tmp_path):
    settings = _settings(tmp_path)
    resources = build_resources(settings)
    resources["landing"] = resources["landing"].model_copy(
        update={"sim_customers": 400, "sim_months": 14}
    )
    result = dg.materialize(
        [landing_extract, raw_tables, dbt_models],
        resources=resources,
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    assert (tmp_path / "raw" / "_manifest.json").exists()
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        for mart in MARTS:
            n = con.execute(f"select count(*) from marts.{mart}").fetchone()[0]
            assert n > 0, mart
        months = con.execute(
            "select count(distinct as_of_month) from marts.fct_features_arrears"
        ).fetchone()[0]
        assert months >= 2


def _cli(*args, env):
    return subprocess.run(
        [sys.executable, "-m", "powerseg.cli", *args], env=env, capture_output=True, text=True
    )


@pytest.mark.slow
def test_cli_run_succeeds_then_names_the_missing_column(tmp_path):
    env = dict(os.environ, POWERSEG_DATA_DIR=str(tmp_path), DAGSTER_HOME=str(tmp_path / "dagster"))
    env.pop("MLFLOW_TRACKING_URI", None)
    sim = _cli(
        "simulate",
        "--customers",
        "300",
        "--months",
        "13",
        "--out",
        str(tmp_path),
        "--quiet",
        env=env,
    )
    assert sim.returncode == 0, sim.stderr
    ok = _cli("run", "--data-dir", str(tmp_path), "--source", "landing", env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "marts.fct_features_inspection" in ok.stdout

    # A delivered extract whose bills lost a required column stops the run and says which.
    import pyarrow.parquet as pq

    for f in (tmp_path / "raw" / "bills").glob("*.parquet"):
        pq.write_table(pq.read_table(f).drop(["due_date"]), f)
    bad = _cli("run", "--data-dir", str(tmp_path), "--source", "landing", env=env)
    assert bad.returncode == 1
    assert "raw table 'bills' is missing required column(s) due_date" in bad.stderr
    assert "not run because of the failures above" in bad.stderr
