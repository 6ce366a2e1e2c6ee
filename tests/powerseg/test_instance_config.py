"""The local Dagster instance's dagster.yaml: SQLite by default, PostgreSQL storage named by
environment variable when POWERSEG_DAGSTER_PG_URL is set, and a file someone else wrote is kept."""

from __future__ import annotations

import yaml

from powerseg.settings import Settings
from powerseg_cli.instance import DAGSTER_YAML_MARK, prepare_instance

PG_URL = "postgresql://powerseg:s3cret@db.example:5432/dagster"


def settings(tmp_path, **env) -> Settings:
    return Settings.from_env({"POWERSEG_DATA_DIR": str(tmp_path), **env})


def test_default_instance_keeps_runs_in_sqlite(tmp_path):
    prepare_instance(settings(tmp_path))
    config = yaml.safe_load((tmp_path / "dagster" / "dagster.yaml").read_text())
    assert "storage" not in config and config["concurrency"]["pools"]["default_limit"] == 1


def test_a_postgres_url_moves_the_storage_without_writing_the_password(tmp_path):
    prepare_instance(settings(tmp_path))  # a folder that ran on SQLite before
    prepare_instance(settings(tmp_path, POWERSEG_DAGSTER_PG_URL=PG_URL))
    text = (tmp_path / "dagster" / "dagster.yaml").read_text()
    assert yaml.safe_load(text)["storage"] == {
        "postgres": {"postgres_url": {"env": "POWERSEG_DAGSTER_PG_URL"}}
    }
    assert "s3cret" not in text and "db.example" not in text
    assert (
        settings(tmp_path, POWERSEG_DAGSTER_PG_URL=PG_URL).export_env()["POWERSEG_DAGSTER_PG_URL"]
        == PG_URL
    )  # child processes (dbt, the UI) get it
    prepare_instance(settings(tmp_path))  # and back
    assert "storage" not in yaml.safe_load((tmp_path / "dagster" / "dagster.yaml").read_text())


def test_a_dagster_yaml_written_by_someone_else_is_left_alone(tmp_path, capsys):
    home = tmp_path / "dagster"
    home.mkdir()
    theirs = "storage:\n  sqlite:\n    base_dir: /srv/dagster\n"
    (home / "dagster.yaml").write_text(theirs)
    prepare_instance(settings(tmp_path, POWERSEG_DAGSTER_PG_URL=PG_URL))
    assert (home / "dagster.yaml").read_text() == theirs
    assert "was not written by powerseg and is left as it is" in capsys.readouterr().err
    assert not theirs.startswith(DAGSTER_YAML_MARK)


def test_mlflow_artifacts_default_beside_sqlite_and_under_the_data_folder_for_a_database(tmp_path):
    assert settings(tmp_path).mlflow_artifact_root == str(tmp_path / "mlflow" / "mlartifacts")
    on_pg = settings(tmp_path, MLFLOW_TRACKING_URI="postgresql://u@h/mlflow")
    assert on_pg.mlflow_artifact_root == str(tmp_path / "mlflow" / "mlartifacts")
    chosen = settings(tmp_path, MLFLOW_ARTIFACT_ROOT="s3://bucket/mlflow")
    assert chosen.mlflow_artifact_root == "s3://bucket/mlflow"
