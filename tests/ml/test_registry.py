"""The factor registry is the one definition of a factor: what is derived from it matches it, the
generated dbt files are current, and the rules Python shares with dbt and the contract agree.
"""

from __future__ import annotations

import dataclasses

import pytest

from ml import registry_dbt
from ml.config import CHANNELS, ChannelActivityConfig, TrainingConfig
from ml.registry import FACTORS, REGISTRY, Registry, ScoreColumn
from ml.segmentation import FACTOR_SCORES, FACTOR_WORDS, SegmentationConfig
from powerseg.contract import INTERACTION_ACTIONS, INTERACTION_CHANNELS
from powerseg.dbt_vars import DBT_PROJECT_DIR, dbt_var


def test_five_factors_in_their_fixed_order():
    assert FACTORS == (
        "contribution",
        "outage_sensitivity",
        "arrears",
        "channel_activity",
        "inspection",
    )
    assert REGISTRY.supervised == ("outage_sensitivity", "arrears", "inspection")
    assert tuple(f"{name}_score" for name in FACTORS) == FACTOR_SCORES
    assert set(FACTOR_WORDS) == set(FACTOR_SCORES)
    assert SegmentationConfig().factors == SegmentationConfig.for_registry(REGISTRY).factors


@pytest.mark.parametrize("relative", sorted(registry_dbt.generated_files(), key=str))
def test_generated_dbt_files_are_current(relative):
    expected = registry_dbt.generated_files()[relative]
    assert (DBT_PROJECT_DIR / relative).read_text() == expected, (
        f"{relative} is stale: run `make contract` (python -m ml.registry_dbt)"
    )


def test_the_scores_model_reads_every_factor_and_publishes_its_columns():
    sql = registry_dbt.render_scores_model()
    for factor in REGISTRY:
        assert f"source('scores', '{factor.score_table}')" in sql
        for column in factor.published:
            assert f" as {column.name}" in sql or f".{column.name}," in sql + ","


def test_shared_rules_have_one_source():
    # the outcome window: dbt's var, read by Python
    assert TrainingConfig().outcome_months == dbt_var("outcome_months")
    # the channels and actions: the source contract's
    assert CHANNELS == INTERACTION_CHANNELS
    assert ChannelActivityConfig().n_actions == len(INTERACTION_ACTIONS)


def test_a_registry_that_contradicts_itself_is_refused():
    arrears = REGISTRY["arrears"]
    with pytest.raises(ValueError, match="'arrears' is registered twice"):
        REGISTRY.with_factor(arrears)
    no_tier = dataclasses.replace(
        arrears,
        name="late",
        score_columns=(ScoreColumn("score", "Float64"),),
        published=(arrears.published[0],),
    )
    with pytest.raises(ValueError, match="needs a 'score' and a 'tier' column"):
        Registry((no_tier,))
    unsupervised_without_rule = dataclasses.replace(arrears, name="late2", baseline=None)
    with pytest.raises(ValueError, match="supervised factor needs a config label and a baseline"):
        Registry((unsupervised_without_rule,))
    with pytest.raises(ValueError, match="unknown factor 'nope'"):
        REGISTRY["nope"]
