"""powerseg model code: the five factor models, their metrics and MLflow tracking.

Pure Python (numpy, pandas, scikit-learn, optbinning, MLflow); nothing here imports Dagster.
"""
