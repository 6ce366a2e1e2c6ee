"""What every factor estimator shares: its config (a dataclass of ml/config.py, the default when
none is given), the columns it reads and the typed frame its MLflow signature describes.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pandas as pd
from sklearn.base import BaseEstimator

from ml.preprocessing import model_input_frame


class FactorEstimator(BaseEstimator):
    """Base of the factor models. A subclass names its `config_class`; a config with
    `numeric_features` and `categorical_features` reads both, one with `features` only numbers."""

    config_class: ClassVar[type]
    frame_name: ClassVar[str] = "feature frame"  # how errors name the frame it was given

    def __init__(self, config: Any = None):
        self.config = config

    @property
    def resolved_config(self) -> Any:
        return self.config or self.config_class()

    @property
    def input_columns(self) -> list[str]:
        cfg = self.resolved_config
        if hasattr(cfg, "numeric_features"):
            return [*cfg.numeric_features, *cfg.categorical_features]
        return list(cfg.features)

    def model_input(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The columns the model reads, as it reads them: numbers as float64, categories as text."""
        cfg = self.resolved_config
        if hasattr(cfg, "numeric_features"):
            return model_input_frame(
                frame, cfg.numeric_features, cfg.categorical_features, self.frame_name
            )
        return frame[self.input_columns].apply(pd.to_numeric, errors="coerce").astype("float64")
