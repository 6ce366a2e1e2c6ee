"""Freshness checks: a late extract fails with a description that says how late, the simulated
demo stays green, and stale outputs fail their last-update check."""

import json
from datetime import date

import dagster as dg
import pytest

from orchestration.assets.sources import landing_extract
from orchestration.checks.freshness import (
    age_in_words,
    extract_freshness,
    judge_extract_freshness,
    judge_output_freshness,
    output_asset_keys,
    output_freshness_checks,
)
from orchestration.resources import LandingResource
from powerseg.contract import MANIFEST_FILE
from powerseg.settings import DEFAULT_EXTRACT_MAX_AGE_DAYS

DELIVERED = {"extract_start": "2025-11-01", "extract_end": "2026-10-31", "tables": {}}


def test_late_extract_fails_and_says_how_late():
    verdict = judge_extract_freshness(DELIVERED, max_age_days=32, today=date(2026, 12, 10))

    assert not verdict.passed
    assert verdict.age_days == 40
    assert verdict.description.startswith("extract is late: it ends 2026-10-31, 40 days before")
    assert "at most 32 days" in verdict.description
    assert "POWERSEG_EXTRACT_MAX_AGE_DAYS" in verdict.description


def test_extract_within_the_limit_passes():
    verdict = judge_extract_freshness(DELIVERED, max_age_days=32, today=date(2026, 11, 23))

    assert verdict.passed
    assert verdict.age_days == 23
    assert verdict.reference == "today (UTC)"


def test_the_limit_is_inclusive():
    on_the_day = judge_extract_freshness(DELIVERED, max_age_days=32, today=date(2026, 12, 2))
    day_after = judge_extract_freshness(DELIVERED, max_age_days=32, today=date(2026, 12, 3))

    assert (on_the_day.passed, on_the_day.age_days) == (True, 32)
    assert (day_after.passed, day_after.age_days) == (False, 33)


def test_simulated_extract_is_measured_against_its_own_end():
    simulated = {**DELIVERED, "seed": 42}

    verdict = judge_extract_freshness(simulated, max_age_days=32, today=date(2030, 1, 1))

    assert verdict.passed
    assert verdict.age_days == 0
    assert verdict.reference.startswith("simulated extract")


def test_configured_reference_date_wins_even_for_the_simulator():
    simulated = {**DELIVERED, "seed": 42}

    verdict = judge_extract_freshness(
        simulated, max_age_days=32, configured_reference="2027-01-15", today=date(2026, 11, 1)
    )

    assert not verdict.passed
    assert verdict.age_days == 76
    assert verdict.reference_date == date(2027, 1, 15)


def test_missing_manifest_fails_with_a_reason():
    verdict = judge_extract_freshness(None, max_age_days=32, today=date(2026, 11, 1))

    assert not verdict.passed
    assert "no manifest" in verdict.description


def _run_extract_check(raw_dir, reference_date=None):
    landing = LandingResource(raw_dir=str(raw_dir), truth_dir=str(raw_dir), source="landing")
    config = {"max_age_days": DEFAULT_EXTRACT_MAX_AGE_DAYS}
    if reference_date:
        config["reference_date"] = reference_date
    result = dg.materialize(
        [landing_extract, extract_freshness],
        resources={"landing": landing},
        run_config={"ops": {extract_freshness.node_def.name: {"config": config}}},
        raise_on_error=False,
    )
    (evaluation,) = result.get_asset_check_evaluations()
    return result, evaluation


@pytest.fixture
def delivered_extract(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / MANIFEST_FILE).write_text(json.dumps(DELIVERED))
    return raw


def test_late_extract_fails_the_dagster_check_but_does_not_block(delivered_extract):
    result, evaluation = _run_extract_check(delivered_extract, reference_date="2026-12-20")

    assert result.success  # not blocking: the extract itself is still materialised
    assert evaluation.asset_key == dg.AssetKey(["landing", "extract"])
    assert evaluation.check_name == "freshness"
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert "extract is late: it ends 2026-10-31, 50 days before 2026-12-20" in (
        evaluation.description
    )
    assert evaluation.metadata["age_days"].value == 50


def test_timely_extract_passes_the_dagster_check(delivered_extract):
    _, evaluation = _run_extract_check(delivered_extract, reference_date="2026-11-05")

    assert evaluation.passed
    assert evaluation.metadata["reference"].value.startswith("configured")


def test_outputs_are_the_ends_of_the_lineage_graph():
    from orchestration.definitions import ASSETS, defs

    outputs = output_asset_keys(ASSETS)

    graph = defs.resolve_asset_graph()
    ends = {
        key
        for key in graph.get_all_asset_keys()
        if not graph.get(key).child_keys
        and graph.get(key).group_name not in {"sources", "staging", "intermediate", "rules"}
    }
    assert outputs and set(outputs) == ends
    assert dg.AssetKey(["scores", "arrears_scores"]) not in outputs  # read by a mart
    check_keys = {k.asset_key for k in graph.asset_check_keys if k.name.startswith("freshness")}
    assert set(outputs) | {dg.AssetKey(["landing", "extract"])} <= check_keys


@dg.asset(group_name="marts")
def upstream_mart():
    return 1


@dg.asset(group_name="segmentation", deps=[upstream_mart])
def segment_output():
    return 2


def test_output_freshness_fails_for_stale_outputs_and_passes_for_fresh_ones():
    assert output_asset_keys([upstream_mart, segment_output]) == [dg.AssetKey("segment_output")]
    fresh = output_freshness_checks([upstream_mart, segment_output], max_age_days=35)
    # A zero-day limit makes any earlier materialisation stale.
    stale = output_freshness_checks([upstream_mart, segment_output], max_age_days=0)
    with dg.instance_for_test() as instance:
        dg.materialize([upstream_mart, segment_output], instance=instance)
        fresh_result = dg.materialize(
            [upstream_mart, segment_output, *fresh],
            instance=instance,
            selection=dg.AssetSelection.checks(*fresh),
        )
        stale_result = dg.materialize(
            [upstream_mart, segment_output, *stale],
            instance=instance,
            selection=dg.AssetSelection.checks(*stale),
            raise_on_error=False,
        )

    (fresh_eval,) = fresh_result.get_asset_check_evaluations()
    (stale_eval,) = stale_result.get_asset_check_evaluations()
    assert fresh_eval.passed
    assert not stale_eval.passed
    assert stale_eval.asset_key == dg.AssetKey("segment_output")


def test_output_freshness_says_how_old_in_words_even_a_second_after_the_build():
    assert judge_output_freshness(1000.0, 1000.4, 35)[:2] == (
        True,
        "last built just now (0 s ago) (1970-01-01T00:16:40+00:00); limit 35 days",
    )
    passed, text, age = judge_output_freshness(0.0, 36 * 86400 + 5, 35)
    assert not passed and text.startswith("stale: last built 36 days ago") and age > 35 * 86400
    assert judge_output_freshness(None, 10.0, 35) == (False, "never built", None)
    assert age_in_words(3 * 3600 + 5) == "3 hours ago" and age_in_words(61) == "1 minute ago"


def test_the_freshness_sensor_asks_for_the_output_checks_only():
    from orchestration.definitions import defs

    sensor = defs.get_sensor_def("output_freshness_sensor")
    assert [node.name for node in defs.resolve_job_def(sensor.job_name).nodes] == [
        "outputs_freshness"
    ]
    request = sensor(dg.build_sensor_context())
    assert request.run_key.startswith("output-freshness-")
