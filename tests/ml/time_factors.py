"""Wall time of train + score per factor model on synthetic marts (a script, not a test).

Run: `.venv/bin/python -m tests.ml.time_factors [customers] [--mlflow]`.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from ml.factors import train_and_score
from ml.registry import FACTORS
from ml.tracking import TrackingConfig
from tests.ml.synthetic import make_marts


def main(argv: list[str]) -> None:
    customers = int(next((a for a in argv if a.isdigit()), "100000"))
    with_mlflow = "--mlflow" in argv
    marts = make_marts(customers, seed=1)
    with tempfile.TemporaryDirectory() as folder:
        tracking = (
            TrackingConfig(f"sqlite:///{Path(folder) / 'mlflow.db'}") if with_mlflow else None
        )
        total = 0.0
        for factor in FACTORS:
            started = time.perf_counter()
            result = train_and_score(
                factor,
                marts.train[factor],
                marts.outcomes,
                marts.score[factor],
                tracking=tracking,
            )
            elapsed = time.perf_counter() - started
            total += elapsed
            headline = {k: round(v, 3) for k, v in list(result.metrics.items())[:3]}
            print(f"{factor:20s} {elapsed:6.2f} s  {len(result.scores):7d} rows  {headline}")
        print(f"{'total':20s} {total:6.2f} s  ({customers} customers, mlflow={with_mlflow})")


if __name__ == "__main__":
    main(sys.argv[1:])
