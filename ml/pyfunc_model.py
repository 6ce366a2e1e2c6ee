"""The MLflow pyfunc wrapper a factor estimator is logged and registered as.

Its own module so that importing `ml.tracking` or `ml.factors` does not import MLflow; cloudpickle
stores this class by reference, so it must stay importable under this name.
"""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc
import pandas as pd


class FactorPyfuncModel(mlflow.pyfunc.PythonModel):
    """The fitted factor estimator as an MLflow pyfunc: features in, the per-customer scores out."""

    def __init__(self, factor: str, estimator: Any):
        self.factor = factor
        self.estimator = estimator

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return self.estimator.score_frame(model_input).reset_index(drop=True)
