"""The whole graph through the `powerseg run` command a scheduler would call, on a small simulated
extract in a temporary folder: what a good extract leaves behind, and what a broken one says.
"""

import re
import shutil
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from ml.baselines import RULE_VERSION
from ml.registry import FACTORS
from orchestration.assets.factors import SUPERVISED
from powerseg.settings import Settings
from tests.conftest import MARTS, landing_env, powerseg_cli


@pytest.mark.slow
@pytest.mark.xdist_group("pipeline")
def test_run_builds_every_mart_and_scores_every_active_customer_once(pipeline_run):
    out = pipeline_run.result.stdout
    assert "powerseg run succeeded for 2026-10" in out
    assert "marts.customer_factor_scores" in out and "scores.inspection_scores" in out
    with pipeline_run.connect() as con:
        for mart in MARTS:
            assert con.execute(f"select count(*) from marts.{mart}").fetchone()[0] > 0, mart
        newest = con.execute("select max(as_of_month) from marts.customer_360").fetchone()[0]
        active = con.execute(
            "select count(*) from marts.customer_360 where as_of_month = ?", [newest]
        ).fetchone()[0]
        for factor in FACTORS:
            rows, customers, low, high = con.execute(
                f"select count(*), count(distinct customer_id), min(score), max(score) "
                f"from scores.{factor}_scores where as_of_month = ?",
                [newest],
            ).fetchone()
            assert rows == customers == active, factor  # every active customer scored once
            assert 0 <= low <= high <= 100, factor
        joined = con.execute(
            "select count(*) from marts.customer_factor_scores where cast(as_of_month as date) = ?",
            [newest],
        ).fetchone()[0]
        assert joined == active
        # the earlier month the session ran first is still there, untouched by the newest
        months = con.execute(
            "select count(distinct as_of_month) from marts.customer_factor_scores"
        ).fetchone()[0]
        assert months == 2


@pytest.mark.slow
@pytest.mark.xdist_group("pipeline")
def test_run_prints_one_line_per_step_and_keeps_the_rest_in_its_log(pipeline_run):
    result = pipeline_run.result
    lines = (result.stdout + result.stderr).splitlines()
    assert len(lines) <= 150, len(lines)
    assert not [line for line in lines if " - DEBUG - " in line or "Warning:" in line]
    steps = [line for line in lines if re.match(r"^  \[ *\d+/\d+\] (ok|FAILED) ", line)]
    total = int(re.search(r"/(\d+)\]", steps[0]).group(1))
    assert len(steps) == total > 30  # every step of the job, each once
    assert any("dbt_monthly_models" in line for line in steps)
    log = Path(re.search(r"full log: (\S+)", result.stdout).group(1))
    assert log.parent == pipeline_run.data_dir / "logs"
    text = log.read_text()
    # Dagster's events and dbt's own output are all in the log
    assert " - DEBUG - " in text and "STEP_SUCCESS" in text and "Completed successfully" in text
    # and the summary says where staff find the newest report and exports
    report = Path(re.search(r"^report: +(\S+)$", result.stdout, re.M).group(1))
    assert report.is_file() and report.suffix == ".html"
    assert Path(re.search(r"^exports: +(\S+)$", result.stdout, re.M).group(1)).is_dir()
    portrait = Path(re.search(r"^portrait: +(\S+)$", result.stdout, re.M).group(1))
    assert portrait.read_bytes()[:3] == b"\xef\xbb\xbf"  # the staff's CSV opens in Excel


@pytest.mark.slow
@pytest.mark.xdist_group("pipeline")
def test_each_monthly_run_registers_a_version_with_its_decision(pipeline_run):
    uri = Settings.from_env({"POWERSEG_DATA_DIR": str(pipeline_run.data_dir)}).mlflow_tracking_uri
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    with duckdb.connect(str(pipeline_run.data_dir / "warehouse.duckdb"), read_only=True) as con:
        newest_versions = {
            factor: con.execute(
                f"select distinct model_version from scores.{factor}_scores "
                f"where as_of_month = (select max(as_of_month) from scores.{factor}_scores)"
            ).fetchall()
            for factor in FACTORS
        }
        grades = con.execute(
            "select count(distinct grade) from scores.arrears_scores where as_of_month = "
            "(select max(as_of_month) from scores.arrears_scores)"
        ).fetchone()[0]
    # grades are bands of the calibrated probability, and the population spans several
    assert grades >= 3
    for factor in FACTORS:
        name = f"powerseg_{factor}"
        versions = {str(v.version): v for v in client.search_model_versions(f"name = '{name}'")}
        # one version per monthly run (the refused concurrent run registered none)
        assert sorted(versions) == ["1", "2"], factor
        # search_model_versions leaves aliases empty; get_model_version fills them in
        second = client.get_model_version(name, "2")
        assert second.tags["decision"], factor  # promoted or not, the reason is on the version
        assert ("champion" in second.aliases) == (second.tags["promoted"] == "True"), factor
        (scored_with,) = newest_versions[factor]
        try:
            champion = client.get_model_version_by_alias(name, "champion")
        except MlflowException:
            champion = None
        if factor not in SUPERVISED:
            assert champion is not None and scored_with[0] == str(champion.version), factor
            continue
        if champion is None or scored_with[0] == RULE_VERSION:
            # no version passed the floors: the rule baseline scored, and the decision says why
            assert scored_with[0] == RULE_VERSION, factor
            assert "quality floors" in second.tags["decision"], factor
            continue
        assert scored_with[0] == str(champion.version), factor
        # a champion is never below the floor nor its rule baseline on its own hold-out
        metrics = client.get_run(champion.tags["run_id"]).data.metrics
        assert metrics["auc"] > 0.55 and metrics["auc"] >= metrics["baseline_rule_auc"], factor
        assert metrics["holdout_positives"] >= 30, factor


@pytest.mark.slow
def test_run_on_a_broken_extract_names_what_broke(sim_extract, tmp_path):
    # The utility delivers bills without a required column: the run stops and says which,
    # and everything downstream of the load is reported as not run.
    raw = tmp_path / "landing"
    shutil.copytree(sim_extract / "raw", raw)
    for f in (raw / "bills").glob("*.parquet"):
        pq.write_table(pq.read_table(f).drop(["due_date"]), f)
    bad = powerseg_cli("run", env=landing_env(tmp_path / "data", raw))
    assert bad.returncode == 1
    assert "raw table 'bills' is missing required column(s) due_date" in bad.stderr
    assert "not run because of the failures above" in bad.stderr
    assert "dbt_monthly_models" in bad.stderr
