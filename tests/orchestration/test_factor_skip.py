"""A factor whose source table arrived empty is skipped with a clear message: it writes every
active customer of the month with no score and tier not_scored, and its output gate only warns.
"""

from __future__ import annotations

import dagster as dg
import duckdb

from orchestration.assets.factors import (
    REQUIRED_SOURCES,
    SCORE_COLUMNS,
    factor_assets,
    skip_message,
)
from orchestration.checks.mart_gates import score_spec
from orchestration.resources import MlflowResource, WarehouseResource
from powerseg.quality import WARNING, validate_relation
from powerseg_cli.report import run_warnings


def test_every_factor_declares_its_sources_and_columns():
    assert (
        set(REQUIRED_SOURCES)
        == set(SCORE_COLUMNS)
        == {
            "contribution",
            "outage_sensitivity",
            "arrears",
            "channel_activity",
            "inspection",
        }
    )
    assert skip_message("inspection", ["inspections"]).startswith(
        "inspection skipped: raw.inspections is empty in this extract"
    )


def test_empty_channel_interactions_skips_channel_activity(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        for schema in ("staging", "marts"):
            con.execute(f"create schema {schema}")
        con.execute(
            "create table staging.stg_raw__channel_interactions (customer_id varchar, "
            "occurred_at timestamp)"
        )
        con.execute(
            """
            create table marts.customer_360 as
            select printf('C%07d', i) as customer_id, cast(m as date) as as_of_month
            from range(1, 41) t(i), unnest(['2026-08-01', '2026-09-01']) u(m)
            """
        )
        con.execute(
            "create table marts.fct_outcomes as select *, as_of_month < date '2026-09-01' "
            "as outcome_window_closed from marts.customer_360"
        )
        con.execute(
            "create table marts.fct_features_channel_activity as "
            "select *, 0 as interactions_12m from marts.customer_360"
        )
    asset = next(
        a for a in factor_assets if dg.AssetKey(["scores", "channel_activity_scores"]) in a.keys
    )
    result = dg.materialize(
        [asset],
        partition_key="2026-09-01",
        resources={
            "warehouse": WarehouseResource(path=str(path)),
            "mlflow": MlflowResource(
                tracking_uri=f"sqlite:///{tmp_path / 'unused.db'}",
                artifact_dir=str(tmp_path / "artifacts"),
            ),
        },
    )
    assert result.success
    (event,) = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    assert metadata["skipped"].value is True
    assert "raw.channel_interactions is empty" in metadata["skipped_reason"].value
    # `powerseg run` lists it among the warnings that let the run succeed
    assert run_warnings(result) == [metadata["skipped_reason"].value]
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(
            "select count(*), count(score), min(tier), max(tier), min(as_of_month) "
            "from scores.channel_activity_scores"
        ).fetchone()
        columns = {
            r[0]
            for r in con.execute(
                "select column_name from information_schema.columns "
                "where table_name = 'channel_activity_scores'"
            ).fetchall()
        }
    assert rows[:4] == (40, 0, "not_scored", "not_scored")
    assert str(rows[4])[:10] == "2026-09-01"
    # the same shape a scored month has, for marts.customer_factor_scores
    assert {"preferred_channel", "digital_tier", "score", "model_version"} <= columns

    gate = validate_relation(path, score_spec("channel_activity"))
    assert gate.severity == WARNING
    assert [f.name for f in gate.failures] == ["expect_column_values_to_not_be_null(score)"]
