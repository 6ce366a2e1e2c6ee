"""Channel activity: entropy weights by hand, configured weights, index bounds, digital tiers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ml import metrics as m
from ml.channel_activity import ChannelActivityModel, entropy_weights
from ml.config import CHANNELS, ChannelActivityConfig


def test_entropy_weights_hand_computed():
    # column 1 min-max → 0, .5, 1 → p = 0, 1/3, 2/3; column 2 → 0, 0, 1 → p = 0, 0, 1 (e = 0)
    e1 = -(1 / 3 * math.log(1 / 3) + 2 / 3 * math.log(2 / 3)) / math.log(3)
    d1, d2 = 1 - e1, 1.0
    weights = entropy_weights(np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 2.0]]))
    assert weights == pytest.approx([d1 / (d1 + d2), d2 / (d1 + d2)])
    assert weights == pytest.approx([0.2961, 0.7039], abs=1e-4)


def test_entropy_weights_ignore_constant_columns():
    x = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]])
    assert entropy_weights(x) == pytest.approx([0.0, 1.0])
    assert entropy_weights(np.ones((4, 3))) == pytest.approx([1 / 3] * 3)


def _channel_frame(rows: list[dict[str, dict[str, float]]], online=None) -> pd.DataFrame:
    """rows: [{channel: {recency, frequency, breadth}}]; unlisted channels were not used."""
    data = []
    for row in rows:
        record = {}
        for channel in CHANNELS:
            usage = row.get(channel, {"recency": 366, "frequency": 0, "breadth": 0})
            record[f"{channel}_recency_days"] = usage["recency"]
            record[f"{channel}_frequency_12m"] = usage["frequency"]
            record[f"{channel}_breadth_12m"] = usage["breadth"]
        data.append(record)
    frame = pd.DataFrame(data)
    frame["online_payment_share_12m"] = online if online is not None else 0.0
    return frame


ACTIVE = {"recency": 0, "frequency": 40, "breadth": 5}
RARE = {"recency": 300, "frequency": 1, "breadth": 1}


def test_index_bounds_preferred_channel_and_digital_tiers():
    everything = dict.fromkeys(CHANNELS, ACTIVE)
    frame = _channel_frame(
        [everything, {}, {"app": ACTIVE, "counter": RARE}, {"counter": ACTIVE, "app": RARE}],
        online=[1.0, 0.0, 1.0, 0.0],
    )
    model = ChannelActivityModel().fit(frame)
    out = model.score_frame(frame)
    assert out["score"].iloc[0] == pytest.approx(100.0)
    assert out["score"].iloc[1] == pytest.approx(0.0)
    assert out["preferred_channel"].tolist() == ["app", "none", "app", "counter"]
    assert out["digital_tier"].tolist()[1:] == ["offline", "digital-first", "offline"]
    assert model.channel_weights_.sum() == pytest.approx(1.0)
    assert model.weight_method_ == "entropy"


def test_activity_components_hand_computed():
    cfg = ChannelActivityConfig(channel_weights={"app": 1.0}, online_payment_column=None)
    frame = _channel_frame(
        [
            {"app": {"recency": 73, "frequency": 3, "breadth": 2}},
            {"app": {"recency": 0, "frequency": 15, "breadth": 5}},
        ]
    )
    model = ChannelActivityModel(cfg).fit(frame)
    # frequency cap = the 99th percentile of app use = 14.88 interactions
    cap = np.quantile([3, 15], 0.99)
    expected = (1 - 73 / 365 + math.log1p(3) / math.log1p(cap) + 2 / 5) / 3
    assert model.channel_activity(frame)[0, 0] == pytest.approx(expected)
    assert model.score_frame(frame)["score"].iloc[0] == pytest.approx(100 * expected, abs=0.005)


def test_configured_weights_override_entropy():
    cfg = ChannelActivityConfig(channel_weights={"app": 2.0, "counter": 2.0})
    frame = _channel_frame([{"app": ACTIVE}, {"counter": RARE}, {}])
    model = ChannelActivityModel(cfg).fit(frame)
    assert model.weight_method_ == "configured"
    assert model.channel_weights_["app"] == pytest.approx(0.5)
    assert model.channel_weights_["web"] == 0.0
    with pytest.raises(ValueError, match="unknown channel"):
        ChannelActivityModel(ChannelActivityConfig(channel_weights={"fax": 1.0})).fit(frame)


def test_index_tracks_planted_digital_affinity(synthetic_marts):
    model = ChannelActivityModel().fit(synthetic_marts.train["channel_activity"])
    out = model.score_frame(synthetic_marts.score["channel_activity"])
    affinity = synthetic_marts.traits["digital_affinity"]
    assert m.spearman(out["digital_share"], affinity) > 0.8
    by_tier = affinity.groupby(out["digital_tier"].to_numpy()).mean()
    assert by_tier["digital-first"] > by_tier["hybrid"] > by_tier["offline"]
    # the same population a quarter later: the index must be stable
    train_index = model.predict(synthetic_marts.train["channel_activity"])
    assert m.population_stability_index(train_index, out["score"]) < 0.05
