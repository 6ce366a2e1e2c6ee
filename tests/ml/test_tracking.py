"""MLflow tracking: runs, registered versions, and the champion / challenger aliases."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml.champion import ChampionStanding, PromotionRule, promotion
from ml.factors import train_and_score
from ml.tracking import TrackingConfig, load_champion, load_pyfunc


def test_promotion_rule_directions_and_tie_break():
    auc = PromotionRule("auc", True, "brier", False)
    assert auc.beats({"auc": 0.8, "brier": 0.2}, {"auc": 0.7, "brier": 0.1})
    assert not auc.beats({"auc": 0.7, "brier": 0.1}, {"auc": 0.8, "brier": 0.2})
    # equal primary: the lower Brier wins; equal on both: the champion stays
    assert auc.beats({"auc": 0.8, "brier": 0.1}, {"auc": 0.8, "brier": 0.2})
    assert not auc.beats({"auc": 0.8, "brier": 0.2}, {"auc": 0.8, "brier": 0.2})
    psi = PromotionRule("psi", higher_is_better=False)
    assert psi.beats({"psi": 0.01}, {"psi": 0.02})
    assert not psi.beats({"psi": 0.03}, {"psi": 0.02})


def test_promotion_reasons_floors_first_then_the_metric():
    auc = PromotionRule("auc", True, "brier", False)
    better, worse = {"auc": 0.8, "brier": 0.1}, {"auc": 0.7, "brier": 0.1}
    floors = ["hold-out AUC 0.500 is not above the floor 0.55"]
    usable = ChampionStanding("3", worse)
    assert promotion("4", better, [], usable, auc) == (
        True,
        "auc (higher is better): new v4 0.8000 vs champion v3 0.7000 on the same hold-out "
        "→ promoted",
    )
    assert promotion("4", worse, [], ChampionStanding("3", better), auc)[0] is False
    assert promotion("4", better, [], ChampionStanding(None), auc) == (
        True,
        "first version of this model and it passes the quality floors",
    )
    assert promotion("4", better, floors, usable, auc) == (
        False,
        "new v4 kept as challenger; quality floors: hold-out AUC 0.500 is not above the floor 0.55",
    )
    broken = ChampionStanding("3", None, ("champion v3 could not be evaluated (gone)",))
    assert not broken.usable and usable.usable and not ChampionStanding(None).usable
    assert promotion("4", better, [], broken, auc) == (
        True,
        "champion v3 could not be evaluated (gone); new v4 passes them: promoted",
    )
    assert promotion("4", better, floors, broken, auc) == (
        False,
        "no version passes the quality floors (champion v3: champion v3 could not be evaluated "
        "(gone)): new v4 not promoted; quality floors: hold-out AUC 0.500 is not above the floor "
        "0.55; the rule baseline scores this month",
    )
    assert promotion("1", better, floors, ChampionStanding(None), auc)[1].startswith(
        "no version passes the quality floors: new v1 not promoted"
    )


def test_artifact_location_sits_beside_the_sqlite_file(tmp_path):
    tracking = TrackingConfig(f"sqlite:///{tmp_path}/mlflow/mlflow.db")
    expected = (tmp_path / "mlflow" / "mlartifacts" / "powerseg-arrears").as_uri()
    assert tracking.artifact_location("arrears") == expected
    explicit = TrackingConfig("http://mlflow:5000", artifact_root="s3://bucket/powerseg")
    assert explicit.artifact_location("inspection") == "s3://bucket/powerseg/powerseg-inspection"
    assert TrackingConfig("http://mlflow:5000").artifact_location("arrears") is None


@pytest.fixture(scope="module")
def tracking(tmp_path_factory) -> TrackingConfig:
    folder = tmp_path_factory.mktemp("mlflow")
    return TrackingConfig(f"sqlite:///{folder}/mlflow.db")


# feature sets of increasing strength for the same label (fault reports carry the contacts)
WEAK = {"features": ("is_important",), "log_features": ()}
MEDIUM = {"features": ("tickets_12m",), "log_features": ("tickets_12m",)}
STRONG = {}  # the default, every feature


def _outage_run(marts, tracking, config):
    return train_and_score(
        "outage_sensitivity",
        marts.train["outage_sensitivity"],
        marts.outcomes,
        marts.score["outage_sensitivity"],
        config=config,
        tracking=tracking,
    )


def test_champion_moves_only_to_a_better_model(synthetic_marts, tracking):
    from mlflow import MlflowClient

    client = MlflowClient(tracking.tracking_uri, tracking.tracking_uri)
    name = "powerseg_outage_sensitivity"

    first = _outage_run(synthetic_marts, tracking, MEDIUM)
    assert first.tracking.promoted and first.tracking.model_version == "1"
    assert str(client.get_model_version_by_alias(name, "champion").version) == "1"
    assert (first.scores["model_version"] == "1").all()

    worse = _outage_run(synthetic_marts, tracking, WEAK)
    assert not worse.tracking.promoted
    assert worse.tracking.model_version == "2"
    # judged on the same hold-out: the champion's AUC there beats the challenger's
    assert worse.tracking.champion_metrics["auc"] > worse.metrics["auc"]
    assert worse.tracking.champion_metrics["auc"] == pytest.approx(first.metrics["auc"])
    assert str(client.get_model_version_by_alias(name, "champion").version) == "1"
    assert str(client.get_model_version_by_alias(name, "challenger").version) == "2"
    # scoring used the champion, not the model just trained
    assert (worse.scores["model_version"] == "1").all()
    assert worse.scores["score"].tolist() == first.scores["score"].tolist()
    assert worse.model is not worse.trained_model

    better = _outage_run(synthetic_marts, tracking, STRONG)
    assert better.tracking.promoted
    assert better.metrics["auc"] > better.tracking.champion_metrics["auc"]
    assert str(client.get_model_version_by_alias(name, "champion").version) == "3"
    assert "challenger" not in client.get_registered_model(name).aliases
    assert (better.scores["model_version"] == "3").all()
    assert "auc" in better.tracking.decision
    version, champion = load_champion(tracking, "outage_sensitivity")
    assert version == "3"
    assert champion.score_frame(synthetic_marts.score["outage_sensitivity"])["score"].tolist() == (
        better.scores["score"].tolist()
    )


def test_run_logs_windows_metrics_artifacts_and_model(synthetic_marts, tracking):
    from mlflow import MlflowClient

    result = train_and_score(
        "inspection",
        synthetic_marts.train["inspection"],
        synthetic_marts.outcomes,
        synthetic_marts.score["inspection"],
        tracking=tracking,
    )
    client = MlflowClient(tracking.tracking_uri, tracking.tracking_uri)
    run = client.get_run(result.tracking.run_id)
    assert run.data.params["train_as_of_month"] == "2026-04"
    assert run.data.params["outcome_window_start"] == "2026-05"
    assert run.data.params["outcome_window_end"] == "2026-07"
    assert run.data.params["score_as_of_month"] == "2026-07"
    assert run.data.params["max_depth"] == "4"
    assert run.data.metrics["precision_at_k"] == pytest.approx(result.metrics["precision_at_k"])
    assert run.data.metrics["rows_score_rows"] == len(synthetic_marts.score["inspection"])
    assert run.data.tags["promoted"] == "True"
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"plots", "tables", "tree_rules.txt"} <= artifacts
    plots = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
    assert "plots/roc_holdout.png" in plots
    experiment = client.get_experiment(result.tracking.experiment_id)
    assert experiment.name == "powerseg-inspection"
    assert experiment.artifact_location.startswith(
        Path(tracking.tracking_uri.removeprefix("sqlite:///")).parent.as_uri()
    )

    model = load_pyfunc(tracking, "inspection", result.tracking.model_version)
    assert model.metadata.signature is not None
    scored = model.predict(
        result.trained_model.model_input(synthetic_marts.score["inspection"].head(20))
    )
    assert scored["score"].tolist() == result.scores["score"].head(20).tolist()
    assert result.tracking.as_metadata()["mlflow_run_id"] == result.tracking.run_id


def test_first_channel_version_is_champion_and_an_equal_one_is_not(synthetic_marts, tracking):
    args = (
        synthetic_marts.train["channel_activity"],
        None,
        synthetic_marts.score["channel_activity"],
    )
    first = train_and_score("channel_activity", *args, tracking=tracking)
    assert first.tracking.promoted
    second = train_and_score("channel_activity", *args, tracking=tracking)
    # the same data gives the same PSI: not strictly better, so the champion stays
    assert not second.tracking.promoted
    assert second.tracking.champion_version == first.tracking.model_version


def test_runs_carry_who_ran_them_and_open_as_model_training(synthetic_marts, tmp_path):
    from dataclasses import replace

    from mlflow import MlflowClient

    from ml.tracking import EXPERIMENT_KIND_TAG, MODEL_EXPERIMENT_KIND
    from orchestration.resources import MlflowResource

    tags = {"dagster.run_id": "0f540df0-1533", "dagster.partition": "2026-07"}
    tracking = replace(TrackingConfig(f"sqlite:///{tmp_path}/mlflow.db"), run_tags=tags)
    result = train_and_score(
        "channel_activity",
        synthetic_marts.train["channel_activity"],
        None,
        synthetic_marts.score["channel_activity"],
        tracking=tracking,
    )
    client = MlflowClient(tracking.tracking_uri, tracking.tracking_uri)
    run = client.get_run(result.tracking.run_id)
    assert {k: run.data.tags[k] for k in tags} == tags
    experiment = client.get_experiment(result.tracking.experiment_id)
    assert experiment.tags[EXPERIMENT_KIND_TAG] == MODEL_EXPERIMENT_KIND
    # the link the Dagster metadata shows opens the run in `make mlflow`, no suffix
    local = MlflowResource(tracking_uri=tracking.tracking_uri, artifact_dir=str(tmp_path))
    assert local.run_url(experiment.experiment_id, run.info.run_id) == (
        f"http://127.0.0.1:5000/#/experiments/{experiment.experiment_id}/runs/{run.info.run_id}"
    )
    server = MlflowResource(tracking_uri="https://mlflow.example/", artifact_dir="s3://b")
    assert server.run_url("3", "abc") == "https://mlflow.example/#/experiments/3/runs/abc"
