"""Channel activity: an activity index from recency, frequency and breadth on each service channel.

Channels are weighted by the entropy-weight method (channels whose use differs more between
customers carry more information and get more weight) unless the config fixes the weights.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import TransformerMixin

from ml.config import ChannelActivityConfig
from ml.estimator import FactorEstimator
from ml.preprocessing import assign_tiers, fit_tier_thresholds, numeric_matrix

NO_CHANNEL = "none"


def entropy_weights(indicators: np.ndarray) -> np.ndarray:
    """Entropy-weight method over the columns of an (objects × indicators) matrix.

    Each column is min-max normalised, p_ij = x_ij / Σ_i x_ij, the entropy
    e_j = −Σ_i p_ij ln p_ij / ln n, and w_j = (1 − e_j) / Σ_k (1 − e_k). A constant column carries
    no information (e_j = 1, weight 0); if every column is constant the weights are equal.
    """
    x = np.asarray(indicators, dtype="float64")
    n_rows, n_columns = x.shape
    if n_rows < 2:
        raise ValueError("the entropy-weight method needs at least two rows")
    low, high = x.min(axis=0), x.max(axis=0)
    spread = high - low
    normalised = np.where(spread > 0, (x - low) / np.where(spread > 0, spread, 1.0), 0.0)
    totals = normalised.sum(axis=0)
    p = normalised / np.where(totals > 0, totals, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_log_p = np.where(p > 0, p * np.log(p), 0.0)
    entropy = np.where(totals > 0, -p_log_p.sum(axis=0) / np.log(n_rows), 1.0)
    divergence = 1.0 - entropy
    if divergence.sum() <= 0:
        return np.full(n_columns, 1.0 / n_columns)
    return divergence / divergence.sum()


class ChannelActivityModel(TransformerMixin, FactorEstimator):
    """Per-channel activity in [0, 1] → weighted index 0-100, preferred channel, digital tier.

    Fitted attributes: `frequency_caps_` (interactions per channel that count as fully active),
    `channel_weights_` (a Series over channels, summing to 1), `weight_method_` ("entropy" or
    "configured"), `tier_thresholds_`.
    """

    config_class = ChannelActivityConfig

    @property
    def input_columns(self) -> list[str]:
        cfg = self.resolved_config
        columns = [
            f"{channel}_{measure}"
            for channel in cfg.channels
            for measure in ("recency_days", "frequency_12m", "breadth_12m")
        ]
        if cfg.online_payment_column:
            columns.append(cfg.online_payment_column)
        return columns

    def model_input(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame[self.input_columns].apply(pd.to_numeric, errors="coerce").astype("float64")

    def _measures(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        channels = self.resolved_config.channels
        cfg = self.resolved_config
        recency = numeric_matrix(frame, [f"{c}_recency_days" for c in channels])
        frequency = numeric_matrix(frame, [f"{c}_frequency_12m" for c in channels])
        breadth = numeric_matrix(frame, [f"{c}_breadth_12m" for c in channels])
        # NULL = the channel was never used in the window
        recency = np.nan_to_num(recency, nan=cfg.recency_horizon_days + 1)
        return recency, np.nan_to_num(frequency, nan=0.0), np.nan_to_num(breadth, nan=0.0)

    def fit(self, frame: pd.DataFrame, y=None) -> ChannelActivityModel:
        cfg = self.resolved_config
        _, frequency, _ = self._measures(frame)
        # the cap is a quantile among the customers who used the channel at all; a channel
        # nobody used keeps cap 1 so that any later use counts as fully frequent
        caps = [
            np.quantile(column[column > 0], cfg.frequency_cap_quantile)
            if (column > 0).any()
            else 1.0
            for column in frequency.T
        ]
        self.frequency_caps_ = np.maximum(np.asarray(caps, dtype=float), 1.0)
        activity = self.channel_activity(frame)
        if cfg.channel_weights is None:
            weights = entropy_weights(activity)
            self.weight_method_ = "entropy"
        else:
            unknown = sorted(set(cfg.channel_weights) - set(cfg.channels))
            if unknown:
                raise ValueError(f"channel_weights name unknown channel(s): {', '.join(unknown)}")
            weights = np.array([cfg.channel_weights.get(c, 0.0) for c in cfg.channels], float)
            if (weights < 0).any() or weights.sum() <= 0:
                raise ValueError("channel_weights must be non-negative and not all zero")
            weights = weights / weights.sum()
            self.weight_method_ = "configured"
        self.channel_weights_ = pd.Series(weights, index=list(cfg.channels), name="weight")
        self.tier_thresholds_ = fit_tier_thresholds(100 * activity @ weights, cfg.tiers)
        return self

    def channel_activity(self, frame: pd.DataFrame) -> np.ndarray:
        """Activity per channel in [0, 1]: weighted mean of recency, frequency and breadth."""
        cfg = self.resolved_config
        recency, frequency, breadth = self._measures(frame)
        recency_part = np.clip(1 - recency / cfg.recency_horizon_days, 0.0, 1.0)
        # log scale: the 50th app login says less than the 5th
        frequency_part = np.clip(np.log1p(frequency) / np.log1p(self.frequency_caps_), 0.0, 1.0)
        breadth_part = np.clip(breadth / cfg.n_actions, 0.0, 1.0)
        weights = np.array(
            [cfg.component_weights.get(k, 0.0) for k in ("recency", "frequency", "breadth")],
            dtype=float,
        )
        weights = weights / weights.sum()
        return weights[0] * recency_part + weights[1] * frequency_part + weights[2] * breadth_part

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        return self.channel_activity(frame)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """The activity index 0-100."""
        return 100 * self.channel_activity(frame) @ self.channel_weights_.to_numpy()

    def digital_share(self, frame: pd.DataFrame, activity: np.ndarray) -> np.ndarray:
        cfg = self.resolved_config
        digital = np.isin(np.array(cfg.channels), np.array(cfg.digital_channels))
        total = activity.sum(axis=1)
        share = np.divide(
            activity[:, digital].sum(axis=1), total, out=np.zeros_like(total), where=total > 0
        )
        if cfg.online_payment_column:
            online = numeric_matrix(frame, [cfg.online_payment_column])[:, 0]
            share = (share + np.nan_to_num(online, nan=0.0)) / 2
        return share

    def score_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        cfg = self.resolved_config
        activity = self.channel_activity(frame)
        score = 100 * activity @ self.channel_weights_.to_numpy()
        channels = np.array(cfg.channels, dtype=object)
        preferred = np.where(
            activity.max(axis=1) > 0, channels[activity.argmax(axis=1)], NO_CHANNEL
        )
        share = self.digital_share(frame, activity)
        digital_tier = np.select(
            [share >= cfg.digital_first_min_share, share > cfg.offline_max_share],
            ["digital-first", "hybrid"],
            default="offline",
        ).astype(object)
        return pd.DataFrame(
            {
                "score": np.round(score, 2),
                "tier": assign_tiers(score, self.tier_thresholds_),
                "preferred_channel": preferred,
                "digital_share": np.round(share, 4),
                "digital_tier": digital_tier,
            },
            index=frame.index,
        )
