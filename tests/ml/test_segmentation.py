"""Segmentation: planted groups recovered, k and share limits, tier grids, stable names, migration.

`planted_scores` (used by the label, strategy and report tests too) builds one month of the scores
frame with five well-separated groups inside `other` plus small categories.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from ml.segmentation import (
    FACTOR_SCORES,
    SegmentationConfig,
    factor_index,
    profile_figure,
    segment_customers,
    segment_migration,
    stable_sample,
)

# contribution, outage sensitivity, arrears, channel activity, inspection (0-100)
PLANTED_CENTRES = np.array(
    [
        [85.0, 75.0, 10.0, 80.0, 5.0],  # high value, outage-sensitive, active
        [20.0, 20.0, 85.0, 30.0, 10.0],  # arrears-prone
        [40.0, 30.0, 20.0, 20.0, 75.0],  # theft risk
        [50.0, 55.0, 15.0, 90.0, 5.0],  # very active
        [15.0, 45.0, 15.0, 10.0, 10.0],  # quiet low value
    ]
)
PLANTED_SHARES = np.array([0.25, 0.2, 0.2, 0.2, 0.15])
ARI_THRESHOLD = 0.9
SMALL_CATEGORIES = {"important": 60, "key": 150, "large_commercial": 30}
PII_COLUMNS = {"name", "id_number", "phone", "address"}


def planted_scores(
    n_other: int = 3000,
    seed: int = 7,
    month: str = "2025-06-01",
    noise: float = 5.0,
    small_categories: dict[str, int] | None = None,
    centre_shift: np.ndarray | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """(scores frame, planted group per row; -1 outside `other`)."""
    rng = np.random.default_rng(seed)
    small_categories = SMALL_CATEGORIES if small_categories is None else small_categories
    sizes = np.floor(PLANTED_SHARES * n_other).astype(int)
    sizes[0] += n_other - sizes.sum()
    groups = np.repeat(np.arange(len(sizes)), sizes)
    centres = PLANTED_CENTRES + (0 if centre_shift is None else centre_shift)
    other = centres[groups] + rng.normal(0, noise, (n_other, 5))
    n_small = sum(small_categories.values())
    small = rng.uniform(5, 95, (n_small, 5))
    values = np.clip(np.vstack([other, small]), 0, 100)
    categories = ["other"] * n_other + [c for c, n in small_categories.items() for _ in range(n)]
    n = len(values)
    frame = pd.DataFrame(values, columns=list(FACTOR_SCORES))
    frame.insert(0, "customer_id", [f"C{i:07d}" for i in range(n)])
    frame.insert(1, "as_of_month", pd.Timestamp(month))
    frame.insert(2, "level1_category", categories)
    _add_attributes(frame, rng)
    planted = np.concatenate([groups, np.full(n_small, -1)])
    return frame, planted


def _add_attributes(frame: pd.DataFrame, rng: np.random.Generator) -> None:
    """The tiers and customer_360 / mart columns the label, points and strategy rules read."""
    n = len(frame)
    contribution = frame["contribution_score"].to_numpy()
    frame["contribution_level"] = np.clip(np.ceil(contribution / 20), 1, 5).astype(int)
    frame["outage_sensitivity_tier"] = np.select(
        [frame["outage_sensitivity_score"] >= 70, frame["outage_sensitivity_score"] >= 40],
        ["high", "medium"],
        "low",
    )
    frame["arrears_grade"] = np.select(
        [
            frame["arrears_score"] >= 80,
            frame["arrears_score"] >= 60,
            frame["arrears_score"] >= 40,
            frame["arrears_score"] >= 20,
        ],
        ["E", "D", "C", "B"],
        "A",
    )
    frame["arrears_tier"] = np.select(
        [frame["arrears_score"] >= 60, frame["arrears_score"] >= 40], ["high", "medium"], "low"
    )
    activity = frame["channel_activity_score"].to_numpy()
    digital_share = np.clip(activity / 100 + rng.normal(0, 0.1, n), 0, 1)
    frame["digital_share_12m"] = digital_share.round(3)
    frame["digital_tier"] = np.select(
        [digital_share >= 0.6, digital_share > 0.2], ["digital-first", "hybrid"], "offline"
    )
    frame["preferred_channel"] = np.where(digital_share >= 0.5, "app", "counter")
    frame["inspection_tier"] = np.select(
        [frame["inspection_score"] >= 60, frame["inspection_score"] >= 30],
        ["high", "medium"],
        "low",
    )
    residential = rng.random(n) < 0.7
    frame["customer_type"] = np.where(residential, "residential", "commercial")
    frame["industry_code"] = np.where(residential, "R", "F52")
    frame["voltage_level"] = np.where(residential, "0.22kV", "10kV")
    frame["tariff"] = np.where(residential, "residential_tiered", "general_commercial")
    frame["importance_grade"] = np.where(frame["level1_category"] == "important", "first", "none")
    frame["key_enterprise_flag"] = frame["level1_category"] == "key"
    frame["is_community_account"] = False
    ages = rng.integers(22, 90, n).astype(float)
    frame["holder_age_years"] = np.where(residential, ages, np.nan)
    frame["tenure_months"] = rng.integers(1, 300, n)
    frame["kwh_12m"] = np.round(contribution * 80 * np.where(residential, 1, 20), 1)
    frame["kwh_growth_ratio"] = rng.normal(0, 0.15, n).round(3)
    late = np.clip(frame["arrears_score"].to_numpy() / 100 + rng.normal(0, 0.1, n), 0, 1)
    frame["late_payment_rate_12m"] = late.round(3)
    frame["on_time_payment_rate_12m"] = np.where(late < 0.08, 1.0, (1 - late).round(3))
    frame["unpaid_bills_at_as_of"] = (late > 0.7).astype(int) + (late > 0.85).astype(int)
    frame["months_since_last_late"] = rng.integers(0, 24, n)
    frame["auto_debit_share_12m"] = np.where(rng.random(n) < 0.3, 1.0, 0.0)
    frame["online_payment_share_12m"] = np.clip(digital_share + rng.normal(0, 0.1, n), 0, 1)
    frame["outages_experienced_12m"] = rng.poisson(2, n)
    sensitive = frame["outage_sensitivity_score"].to_numpy() / 100
    frame["outage_contact_rate_12m"] = np.where(
        frame["outages_experienced_12m"] > 0, sensitive.round(2), 0.0
    )
    frame["complaints_12m"] = rng.poisson(3 * sensitive)
    interactions = rng.poisson(12, n)
    frame["interactions_12m"] = interactions
    frame["counter_frequency_12m"] = np.where(
        frame["digital_tier"] == "offline", interactions, (interactions * 0.2).astype(int)
    )
    frame["past_positive_inspections"] = (frame["inspection_score"] > 70).astype(int)
    frame["consumption_drop_ratio"] = np.clip(
        frame["inspection_score"].to_numpy() / 120 + rng.normal(0, 0.05, n), 0, 1
    ).round(3)


@pytest.fixture(scope="module")
def planted():
    scores, groups = planted_scores()
    return scores, groups, segment_customers(scores)


def test_every_customer_in_exactly_one_segment(planted):
    scores, _, result = planted
    segments = result.customer_segments
    assert len(segments) == len(scores)
    assert segments["customer_id"].is_unique
    assert set(segments["customer_id"]) == set(scores["customer_id"])
    assert segments["segment_id"].notna().all() and segments["segment_name"].notna().all()
    assert result.segment_profiles["size"].sum() == len(scores)
    # segment ids belong to one category each and carry it
    assert (segments["segment_id"].str.rsplit("-", n=1).str[0] == segments["level1_category"]).all()


def test_cluster_limits_per_category(planted):
    _, _, result = planted
    profiles = result.segment_profiles
    for _, category in profiles.groupby("level1_category"):
        assert len(category) <= 7
        assert category["share"].min() >= 0.05
        assert category["share"].sum() == pytest.approx(1.0, abs=1e-3)


def test_planted_groups_recovered(planted):
    scores, groups, result = planted
    merged = scores[["customer_id"]].assign(group=groups).merge(result.customer_segments)
    other = merged[merged["level1_category"] == "other"]
    ari = adjusted_rand_score(other["group"], other["segment_id"])
    assert ari >= ARI_THRESHOLD
    assert result.summary["categories"]["other"]["k"] == len(PLANTED_CENTRES)
    assert result.summary["categories"]["other"]["silhouette"] > 0.5


def test_shuffled_scores_fail_the_ari_threshold():
    scores, groups = planted_scores()
    rng = np.random.default_rng(0)
    shuffled = scores.copy()
    for column in FACTOR_SCORES:  # each score permuted on its own: no joint structure left
        shuffled[column] = rng.permutation(shuffled[column].to_numpy())
    result = segment_customers(shuffled)
    merged = shuffled[["customer_id"]].assign(group=groups).merge(result.customer_segments)
    other = merged[merged["level1_category"] == "other"]
    assert adjusted_rand_score(other["group"], other["segment_id"]) < ARI_THRESHOLD / 3


def test_small_categories_use_the_tier_grid(planted):
    _, _, result = planted
    profiles = result.segment_profiles
    methods = profiles.groupby("level1_category")["segmentation_method"].first()
    assert methods["other"] == "kmeans"
    for category in SMALL_CATEGORIES:
        assert methods[category] == "tier_grid"
        names = set(profiles.loc[profiles["level1_category"] == category, "segment_name"])
        assert all("value" in name for name in names), names
    # a configured threshold above the category size switches clustering off for it
    scores, _ = planted_scores(n_other=600)
    gridded = segment_customers(scores, SegmentationConfig(min_category_size=1000))
    assert set(gridded.segment_profiles["segmentation_method"]) == {"tier_grid"}


def test_tier_grid_coarsens_when_a_cell_is_too_small():
    scores, _ = planted_scores(n_other=400, small_categories={"key": 100})
    # 3 high-risk high-value customers in a category of 100 would be a 3 % cell
    key = scores["level1_category"] == "key"
    scores.loc[key, ["arrears_score", "inspection_score"]] = 0.0
    positions = np.flatnonzero(key.to_numpy())[:3]
    scores.loc[positions, ["contribution_score", "arrears_score"]] = [99.0, 99.0]
    result = segment_customers(scores)
    key_profiles = result.segment_profiles.query("level1_category == 'key'")
    assert key_profiles["share"].min() >= 0.05
    assert result.summary["categories"]["key"]["grid"] == "value"


def test_names_describe_the_planted_profiles(planted):
    _, _, result = planted
    names = set(result.segment_profiles.query("level1_category == 'other'")["segment_name"])
    assert any("high value" in n and "outage-sensitive" in n for n in names), names
    assert any("arrears-prone" in n for n in names), names
    assert any("theft-risk" in n for n in names), names
    assert len(names) == len(PLANTED_CENTRES)


def test_names_stable_under_row_shuffle(planted):
    scores, _, result = planted
    shuffled = scores.sample(frac=1.0, random_state=3)
    again = segment_customers(shuffled)
    pd.testing.assert_frame_equal(
        again.customer_segments.sort_values("customer_id", ignore_index=True),
        result.customer_segments.sort_values("customer_id", ignore_index=True),
    )
    pd.testing.assert_frame_equal(again.segment_profiles, result.segment_profiles)


def test_names_and_ids_stable_next_month_with_perturbed_scores(planted):
    scores, _, result = planted
    shift = np.random.default_rng(11).normal(0, 2.0, PLANTED_CENTRES.shape)
    next_month, _ = planted_scores(seed=8, month="2025-07-01", centre_shift=shift)
    later = segment_customers(next_month, previous_profiles=result.segment_profiles)
    before = result.segment_profiles.query("level1_category == 'other'")
    after = later.segment_profiles.query("level1_category == 'other'")
    assert dict(zip(before["segment_id"], before["segment_name"], strict=True)) == dict(
        zip(after["segment_id"], after["segment_name"], strict=True)
    )
    # tier-grid cells keep their ids by name although their members' scores are all new
    grid_before = result.segment_profiles.query("segmentation_method == 'tier_grid'")
    grid_after = later.segment_profiles.query("segmentation_method == 'tier_grid'")
    pd.testing.assert_frame_equal(
        grid_before[["segment_id", "segment_name"]].reset_index(drop=True),
        grid_after[["segment_id", "segment_name"]].reset_index(drop=True),
    )
    # without the previous month, ids still come out the same (they follow the name order)
    fresh = segment_customers(next_month).segment_profiles.query("level1_category == 'other'")
    assert list(fresh["segment_id"]) == list(before["segment_id"])


def test_unmatched_segment_gets_a_new_id(planted):
    _, _, result = planted
    previous = result.segment_profiles.copy()
    first_other = previous.index[previous["level1_category"] == "other"][0]
    second_other = previous.index[previous["level1_category"] == "other"][1]
    # last month's first segment had another name and sat far away: it cannot keep its id
    previous.loc[first_other, "segment_name"] = "something else"
    previous.loc[first_other, "mean_contribution_score"] += 60
    # the second had another name but nearly the same scores: renamed, it keeps its id
    previous.loc[second_other, "segment_name"] = "renamed"
    previous.loc[second_other, "mean_contribution_score"] += 3
    later = segment_customers(planted_scores()[0], previous_profiles=previous)
    now = later.segment_profiles.query("level1_category == 'other'").set_index("segment_id")
    assert previous.loc[first_other, "segment_id"] not in now.index
    original_name = result.segment_profiles.loc[first_other, "segment_name"]
    assert now.loc["other-06", "segment_name"] == original_name
    assert previous.loc[second_other, "segment_id"] in now.index
    # the rest kept their ids by name
    unchanged = result.segment_profiles.query("level1_category == 'other'").iloc[2:]
    assert (
        now.loc[unchanged["segment_id"], "segment_name"] == unchanged["segment_name"].values
    ).all()


def test_migration_counts_sum_to_customers_in_both_months(planted):
    scores, _, result = planted
    next_month, _ = planted_scores(seed=8, month="2025-07-01")
    # some customers leave, some are new
    next_month = next_month.iloc[100:].copy()
    extra = next_month.iloc[:50].copy()
    extra["customer_id"] = [f"N{i:07d}" for i in range(50)]
    next_month = pd.concat([next_month, extra], ignore_index=True)
    later = segment_customers(next_month, previous_profiles=result.segment_profiles)
    migration = segment_migration(result.customer_segments, later.customer_segments)
    both = set(result.customer_segments["customer_id"]) & set(
        later.customer_segments["customer_id"]
    )
    assert migration["customers"].sum() == len(both)
    assert list(migration.columns[-3:]) == ["from_segment_id", "to_segment_id", "customers"]
    # the planted structure is the same (same customers keep their group): `other` stays put
    other = migration[migration["from_segment_id"].str.startswith("other")]
    stayed = other.loc[other["from_segment_id"] == other["to_segment_id"], "customers"].sum()
    assert stayed / other["customers"].sum() > 0.95


def test_factor_index_formula():
    index = factor_index(
        np.array([[60.0, 10.0, 50.0]]), np.array([50.0, 50.0, 50.0]), np.array([10.0, 10.0, 0.0])
    )
    # (60 - 50) / (2 * 10) = 0.5; (10 - 50) / 20 = -2 → clipped; a constant factor gives 0
    assert index.tolist() == [[0.5, -1.0, 0.0]]


def test_profiles_hold_means_and_indices_in_range(planted):
    scores, _, result = planted
    profiles = result.segment_profiles
    index_cols = [c for c in profiles.columns if c.endswith("_index")]
    assert len(index_cols) == 5
    assert profiles[index_cols].abs().max().max() <= 1.0
    row = profiles.iloc[0]
    members = result.customer_segments.query("segment_id == @row.segment_id")["customer_id"]
    mean = scores.set_index("customer_id").loc[members, "contribution_score"].mean()
    assert row["mean_contribution_score"] == pytest.approx(mean, abs=1e-3)
    assert row["size"] == len(members)


def test_stable_sample_ignores_row_order():
    ids = pd.Series([f"C{i:05d}" for i in range(1000)])
    first = set(ids.iloc[stable_sample(ids, 100)])
    reversed_ids = ids.iloc[::-1].reset_index(drop=True)
    assert set(reversed_ids.iloc[stable_sample(reversed_ids, 100)]) == first


def test_summary_and_figure(planted):
    _, _, result = planted
    summary = result.summary
    assert summary["customers"] == result.customer_segments.shape[0]
    assert summary["metrics"]["k_other"] == 5
    assert set(summary["categories"]["other"]["silhouette_by_k"]) == set(range(2, 8))
    figure = profile_figure(result.segment_profiles)
    visible = [a for a in figure.axes if a.get_visible()]
    assert len(visible) == len(result.segment_profiles)
    assert visible[0].get_ylim() == (-1.05, 1.05)


def test_bad_input_is_a_clear_error(planted):
    scores, _, _ = planted
    with pytest.raises(ValueError, match="inspection_score"):
        segment_customers(scores.drop(columns="inspection_score"))
    with pytest.raises(ValueError, match="exactly one as_of_month"):
        two = scores.copy()
        two.loc[0, "as_of_month"] = pd.Timestamp("2025-01-01")
        segment_customers(two)
    with pytest.raises(ValueError, match="unknown level1_category"):
        segment_customers(scores.assign(level1_category="vip"))


def test_no_pii_columns_in_outputs(planted):
    _, _, result = planted
    for table in (result.customer_segments, result.segment_profiles):
        assert not PII_COLUMNS & set(table.columns)


def test_rare_extreme_scores_do_not_force_two_segments():
    # as in real data, most customers score 0 on inspection and 3 % score far out; unclipped,
    # those few claim a cluster under 5 % at every k and selection falls back to k = 2 (ARI 0.40)
    scores, groups = planted_scores(small_categories={})
    outliers = np.random.default_rng(2).random(len(scores)) < 0.03
    scores["inspection_score"] = np.where(outliers, 100.0, 0.0)
    result = segment_customers(scores)
    # the theft-risk group lost its inspection signal: four groups are left to find
    assert result.summary["categories"]["other"]["k"] >= 4
    merged = scores[["customer_id"]].assign(group=groups).merge(result.customer_segments)
    assert adjusted_rand_score(merged["group"], merged["segment_id"]) >= 0.75


def test_tier_grid_risk_is_strictly_above_the_cut():
    # everybody scores 0 on inspection: the population's 80 % quantile is 0, nobody is high risk
    scores, _ = planted_scores(n_other=400, small_categories={"key": 100})
    scores["inspection_score"] = 0.0
    scores.loc[scores["level1_category"] == "key", "arrears_score"] = 0.0
    result = segment_customers(scores)
    names = set(result.segment_profiles.query("level1_category == 'key'")["segment_name"])
    assert not any("high risk" in name for name in names), names


def test_segmentation_run_logged_to_mlflow(planted, tmp_path):
    from mlflow import MlflowClient

    from ml.segmentation import log_segmentation_run
    from ml.tracking import TrackingConfig

    _, _, result = planted
    tracking = TrackingConfig(f"sqlite:///{tmp_path}/mlflow.db")
    run = log_segmentation_run(result, tracking)
    assert run.experiment_name == "powerseg-segmentation"
    client = MlflowClient(tracking_uri=tracking.tracking_uri)
    logged = client.get_run(run.run_id)
    assert logged.data.metrics["k_other"] == 5
    assert logged.data.metrics["silhouette_other"] > 0.5
    first = result.segment_profiles.iloc[0]
    assert logged.data.metrics[f"size_{first['segment_id']}"] == first["size"]
    assert logged.data.params["max_clusters"] == "7"
    artifacts = {a.path for a in client.list_artifacts(run.run_id)}
    assert {
        "segment_profiles.png",
        "segment_profiles.csv",
        "segmentation_summary.json",
    } <= artifacts


def test_a_factor_skipped_this_month_is_neutral_and_a_partial_gap_is_an_error():
    scores, _ = planted_scores(n_other=600)
    skipped = scores.assign(inspection_score=np.nan)
    result = segment_customers(skipped)
    assert result.summary["factors_not_scored"] == ["inspection_score"]
    assert len(result.customer_segments) == len(scores)
    assert "inspection" not in " ".join(result.segment_profiles["segment_name"]).lower()
    partial = scores.copy()
    partial.loc[partial.index[:5], "inspection_score"] = np.nan
    with pytest.raises(ValueError, match="scores have nulls"):
        segment_customers(partial)
