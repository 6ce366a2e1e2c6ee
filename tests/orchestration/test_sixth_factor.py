"""Adding a factor is one registry entry, one model module and one mart: a toy sixth factor
(tests/orchestration/toy_factor.py) is trained, tracked, scored, published in
marts.customer_factor_scores and segmented on, with nothing else edited.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pytest

from ml import registry_dbt
from ml.registry import REGISTRY
from ml.segmentation import SegmentationConfig, segment_customers
from orchestration.assets.factors import build_factor_assets
from orchestration.checks.mart_gates import factor_scores_spec, score_spec
from orchestration.resources import MlflowResource, WarehouseResource
from powerseg.dbt_vars import DBT_PROJECT_DIR
from powerseg.quality import WARNING, validate_relation
from tests.orchestration.toy_factor import LATE_PAYER, MART, MART_SQL, MART_YML

pytestmark = pytest.mark.slow


def _dbt(project: Path, warehouse: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(
        os.environ, POWERSEG_WAREHOUSE=str(warehouse), DBT_SEND_ANONYMOUS_USAGE_STATS="false"
    )
    return subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), *args, "--project-dir", str(project),
         "--profiles-dir", str(project)],
        env=env, capture_output=True, text=True,
    )  # fmt: skip


def test_a_sixth_factor_from_one_registry_entry(tmp_path):
    from powerseg.landing import load_landing
    from simulator import simulate

    registry = REGISTRY.with_factor(LATE_PAYER)
    assert registry.names[-1] == "late_payer" and len(registry) == len(REGISTRY) + 1

    # The dbt project as the developer leaves it: the new mart, and the generated scores model.
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    (project / "models" / "marts" / f"{MART}.sql").write_text(MART_SQL)
    (project / "models" / "marts" / f"_{MART}.yml").write_text(MART_YML)
    written = registry_dbt.write(project, registry)
    assert {p.name for p in written} == {
        "customer_factor_scores.sql",
        "_scores__sources.yml",
        "factor_registry.sql",
    }
    assert (
        "late_payer.score as late_payer_score" in (project / registry_dbt.SCORES_MODEL).read_text()
    )

    simulate(tmp_path / "data", customers=300, months=15, seed=11, progress=False)
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        load_landing(tmp_path / "data" / "raw", con)
    built = _dbt(project, warehouse, "build", "--exclude", "tag:factor_scores")
    assert built.returncode == 0, built.stdout[-3000:]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        month = con.execute(f"select max(as_of_month) from marts.{MART}").fetchone()[0]
        active = con.execute(
            "select count(*) from marts.customer_360 where as_of_month = ?", [month]
        ).fetchone()[0]

    # Six factor assets from the registry, the new one beside the five.
    assets = build_factor_assets(registry)
    keys = {key.path[-1] for a in assets for key in a.keys}
    assert "late_payer_scores" in keys and len(keys) == 6
    result = dg.materialize(
        assets,
        partition_key=str(month),
        resources={
            "warehouse": WarehouseResource(path=str(warehouse)),
            "mlflow": MlflowResource(
                tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
                artifact_dir=str(tmp_path / "artifacts"),
            ),
        },
    )
    assert result.success
    toy = next(
        e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.materialization.asset_key.path[-1] == "late_payer_scores"
    )
    assert toy["dagster/row_count"].value == active
    assert toy["model"].value.startswith("powerseg_late_payer v1")
    # late payments predict arrears in the simulator: the toy model ranks better than chance
    assert toy["metrics"].value["auc"] > 0.6
    assert any(c.check_name == "model_quality" for c in result.get_asset_check_evaluations())

    published = _dbt(project, warehouse, "build", "--select", "tag:factor_scores")
    assert published.returncode == 0, published.stdout[-3000:]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        scores = con.execute(
            "select * from marts.customer_factor_scores where as_of_month = ?", [month]
        ).df()
    assert len(scores) == active
    assert {"late_payer_score", "late_payer_tier"} <= set(scores.columns)
    assert scores["late_payer_score"].between(0, 100).all()
    assert set(scores["late_payer_tier"]) <= {"high", "medium", "low"}
    # the output gates of the new score table and of the published scores come from the entry
    gate = validate_relation(warehouse, score_spec("late_payer", registry))
    assert gate.passed, gate.summary
    # (a five-factor model may be skipped on 300 customers for too few labels: a warning)
    published_gate = validate_relation(warehouse, factor_scores_spec(registry=registry))
    assert all(f.severity == WARNING for f in published_gate.failures), published_gate.summary
    assert not [f for f in published_gate.failures if "late_payer" in f.name]
    assert "late_payer_score" in factor_scores_spec(registry=registry).ranges

    # Segmentation takes the sixth score like the others: an index bar for every segment.
    config = SegmentationConfig.for_registry(registry)
    assert config.factors == registry.score_columns
    segmented = segment_customers(scores, config)
    profiles = segmented.segment_profiles
    assert "late_payer_index" in profiles.columns
    assert np.isfinite(profiles["late_payer_index"]).all()
    assert len(segmented.customer_segments) == active
