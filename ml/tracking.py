"""MLflow bookkeeping of the factor models: one experiment per factor, runs, registered versions.

`FactorRun.decide_champion` evaluates the current champion on the new version's hold-out and moves
the `champion` / `challenger` aliases as `ml.champion.promotion` decides.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import numpy as np
import pandas as pd

from ml.champion import ChampionDecision, ChampionStanding, PromotionRule, QualityFloor, promotion

# MLflow is imported where it is used: it takes seconds to import, and a Dagster code location
# or a test that never tracks a run should not pay for it.
if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from mlflow import MlflowClient

log = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"
MODEL_ARTIFACT_NAME = "model"
INPUT_EXAMPLE_ROWS = 5
SIGNATURE_ROWS = 200


@dataclass(frozen=True)
class TrackingConfig:
    """Where runs and models go. `artifact_root` defaults to `mlartifacts/` beside a SQLite file."""

    tracking_uri: str
    registry_uri: str | None = None
    artifact_root: str | None = None
    experiment_prefix: str = "powerseg-"
    model_prefix: str = "powerseg_"
    # set on every run: who ran it (the Dagster run id, the partition) and with which code
    run_tags: Mapping[str, str] = field(default_factory=dict)

    def experiment_name(self, factor: str) -> str:
        return f"{self.experiment_prefix}{factor}"

    def model_name(self, factor: str) -> str:
        return f"{self.model_prefix}{factor}"

    def artifact_location(self, factor: str) -> str | None:
        root = self.artifact_root
        if root is None:
            parsed = urlparse(self.tracking_uri)
            if parsed.scheme == "sqlite":
                # sqlite:////abs/path/mlflow.db → /abs/path/mlartifacts
                database = Path(self.tracking_uri.removeprefix("sqlite:///"))
                root = str(database.parent / "mlartifacts")
            elif parsed.scheme in ("", "file"):
                root = str(Path(parsed.path or self.tracking_uri) / "mlartifacts")
            else:
                return None  # a tracking server chooses its own artifact store
        if "://" in root:
            return f"{root.rstrip('/')}/{self.experiment_name(factor)}"
        return (Path(root).resolve() / self.experiment_name(factor)).as_uri()


@dataclass(frozen=True)
class TrackingResult:
    """What a Dagster materialisation shows about the model run."""

    factor: str
    tracking_uri: str
    experiment_id: str
    experiment_name: str
    run_id: str
    model_name: str
    model_version: str  # the version this run registered
    model_uri: str
    promoted: bool
    champion_version: str  # the version that scored the customers ("rule" for the baseline)
    previous_champion_version: str | None
    metrics: dict[str, float]
    champion_metrics: dict[str, float] | None
    decision: str

    def as_metadata(self) -> dict[str, Any]:
        return {
            "mlflow_tracking_uri": self.tracking_uri,
            "mlflow_experiment": self.experiment_name,
            "mlflow_run_id": self.run_id,
            "model_name": self.model_name,
            "model_version": self.model_version,
            "promoted": self.promoted,
            "champion_version": self.champion_version,
            "decision": self.decision,
            **{f"metric_{k}": v for k, v in self.metrics.items()},
        }


def _pip_requirements() -> list[str]:
    # pinned from the running environment: inferring them would start a subprocess per run
    import importlib.metadata as metadata

    packages = ["scikit-learn", "numpy", "pandas", "scipy", "optbinning", "cloudpickle", "mlflow"]
    pins = []
    for package in packages:
        try:
            pins.append(f"{package}=={metadata.version(package)}")
        except metadata.PackageNotFoundError:
            continue
    return pins


@contextmanager
def _mlflow_uris(tracking: TrackingConfig) -> Iterator[None]:
    """Point the fluent MLflow API at this store and put the previous URIs back afterwards."""
    import mlflow

    previous_tracking = mlflow.get_tracking_uri()
    previous_registry = mlflow.get_registry_uri()
    mlflow.set_tracking_uri(tracking.tracking_uri)
    mlflow.set_registry_uri(tracking.registry_uri or tracking.tracking_uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous_tracking)
        mlflow.set_registry_uri(previous_registry)


# MLflow 3 opens an experiment on its GenAI (traces) view unless it is marked as model training.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
MODEL_EXPERIMENT_KIND = "custom_model_development"


def ensure_experiment(client: MlflowClient, tracking: TrackingConfig, factor: str) -> str:
    name = tracking.experiment_name(factor)
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        if experiment.tags.get(EXPERIMENT_KIND_TAG) != MODEL_EXPERIMENT_KIND:
            client.set_experiment_tag(
                experiment.experiment_id, EXPERIMENT_KIND_TAG, MODEL_EXPERIMENT_KIND
            )
        return experiment.experiment_id
    return client.create_experiment(
        name,
        artifact_location=tracking.artifact_location(factor),
        tags={EXPERIMENT_KIND_TAG: MODEL_EXPERIMENT_KIND},
    )


def champion_version(client: MlflowClient, model_name: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(model_name, CHAMPION).version)
    except MlflowException:
        return None  # no registered model yet, or no champion alias on it


def load_estimator(model_name: str, version: str) -> Any:
    """The factor estimator inside a registered pyfunc model version (URIs already set)."""
    import mlflow.pyfunc

    model = mlflow.pyfunc.load_model(f"models:/{model_name}/{version}")
    return model.unwrap_python_model().estimator


def load_pyfunc(tracking: TrackingConfig, factor: str, version_or_alias: str = CHAMPION):
    """A registered version of a factor model as an MLflow pyfunc (features in, scores out)."""
    import mlflow.pyfunc

    name = tracking.model_name(factor)
    if version_or_alias.isdigit():
        uri = f"models:/{name}/{version_or_alias}"
    else:
        uri = f"models:/{name}@{version_or_alias}"
    with _mlflow_uris(tracking):
        return mlflow.pyfunc.load_model(uri)


def load_champion(tracking: TrackingConfig, factor: str) -> tuple[str, Any] | None:
    """(version, estimator) of the factor's current champion, or None before the first run.

    For scoring a month without retraining: `estimator.score_frame(features)`.
    """
    from mlflow import MlflowClient

    registry = tracking.registry_uri or tracking.tracking_uri
    with _mlflow_uris(tracking):
        version = champion_version(
            MlflowClient(tracking.tracking_uri, registry), tracking.model_name(factor)
        )
        if version is None:
            return None
        return version, load_estimator(tracking.model_name(factor), version)


class FactorRun:
    """One MLflow run of one factor model; use as a context manager.

    >>> with FactorRun(tracking, "arrears") as run:  # doctest: +SKIP
    ...     run.log_metrics(metrics); version = run.log_model(model, example)
    ...     decision = run.decide_champion(version, metrics, evaluate, rule, model)
    """

    def __init__(self, tracking: TrackingConfig, factor: str, run_name: str | None = None):
        self.tracking = tracking
        self.factor = factor
        self.run_name = run_name
        self.model_name = tracking.model_name(factor)
        self.model_uri: str | None = None

    def __enter__(self) -> FactorRun:
        import mlflow
        from mlflow import MlflowClient

        self._uris = _mlflow_uris(self.tracking)
        self._uris.__enter__()
        try:
            self.client = MlflowClient(
                self.tracking.tracking_uri, self.tracking.registry_uri or self.tracking.tracking_uri
            )
            self.experiment_id = ensure_experiment(self.client, self.tracking, self.factor)
            # nested when the caller already has a run open (e.g. an MLflow-aware orchestrator)
            self._run = mlflow.start_run(
                experiment_id=self.experiment_id,
                run_name=self.run_name,
                nested=mlflow.active_run() is not None,
            )
        except BaseException:
            self._uris.__exit__(None, None, None)
            raise
        self.run_id = self._run.info.run_id
        mlflow.set_tags(
            {
                "factor": self.factor,
                "powerseg.model_name": self.model_name,
                **dict(self.tracking.run_tags),
            }
        )
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        import mlflow

        try:
            mlflow.end_run(status="FAILED" if exc_type else "FINISHED")
        finally:
            self._uris.__exit__(exc_type, exc, traceback)

    def log_params(self, params: dict[str, Any]) -> None:
        import mlflow

        # MLflow caps a param value at 6000 characters; feature lists stay far below
        mlflow.log_params({k: str(v)[:6000] for k, v in params.items()})

    def log_metrics(self, metrics: dict[str, float]) -> None:
        import mlflow

        finite = {k: float(v) for k, v in metrics.items() if v is not None and np.isfinite(v)}
        mlflow.log_metrics(finite)

    def log_figure(self, figure: Figure, path: str) -> None:
        import mlflow

        mlflow.log_figure(figure, path)

    def log_text(self, text: str, path: str) -> None:
        import mlflow

        mlflow.log_text(text, path)

    def log_table(self, table: pd.DataFrame, path: str) -> None:
        self.log_text(table.to_csv(index=False), path)

    def log_model(self, estimator: Any, features: pd.DataFrame) -> str:
        """Log the estimator as a pyfunc with signature and input example; register a version."""
        import mlflow
        import mlflow.pyfunc
        from mlflow.models import infer_signature

        from ml.pyfunc_model import FactorPyfuncModel

        # the signature is inferred from more rows than the example shows, so that a column
        # that happens to be NULL in the first few rows still gets its type
        example = estimator.model_input(features.head(SIGNATURE_ROWS))
        wrapper = FactorPyfuncModel(self.factor, estimator)
        signature = infer_signature(example, wrapper.predict(None, example))
        info = mlflow.pyfunc.log_model(
            name=MODEL_ARTIFACT_NAME,
            python_model=wrapper,
            signature=signature,
            input_example=example.head(INPUT_EXAMPLE_ROWS),
            registered_model_name=self.model_name,
            pip_requirements=_pip_requirements(),
        )
        self.model_uri = info.model_uri
        version = str(info.registered_model_version)
        self.client.set_model_version_tag(self.model_name, version, "run_id", self.run_id)
        mlflow.set_tag("powerseg.model_version", version)
        return version

    def decide_champion(
        self,
        new_version: str,
        new_metrics: dict[str, float],
        evaluate: Callable[[Any], dict[str, float]],
        rule: PromotionRule,
        new_estimator: Any,
        floor: QualityFloor | None = None,
    ) -> ChampionDecision:
        """Compare with the current champion on the same hold-out and move the aliases.

        With a `floor` (supervised factors) a version must pass it to be promoted — the first
        version too — and the champion must still pass it on this hold-out to keep scoring; when
        neither does, `scoring_version` is None and the caller scores with the rule baseline.
        """
        import mlflow

        current = champion_version(self.client, self.model_name)
        champion = ChampionStanding(current)
        champion_estimator = None
        new_failures = floor.failures(new_metrics) if floor else []
        if current is not None:
            try:
                champion_estimator = load_estimator(self.model_name, current)
                champion_metrics = evaluate(champion_estimator)
            except Exception as error:  # noqa: BLE001 — an unusable champion must not block
                log.warning(
                    "champion v%s of %s could not be evaluated: %s", current, self.model_name, error
                )
                failures = (f"champion v{current} could not be evaluated ({error})",)
                champion = ChampionStanding(current, None, failures)
            else:
                failures = tuple(floor.failures(champion_metrics)) if floor else ()
                champion = ChampionStanding(current, champion_metrics, failures)
        promoted, reason = promotion(new_version, new_metrics, new_failures, champion, rule)
        if promoted:
            self.client.set_registered_model_alias(self.model_name, CHAMPION, new_version)
            self._delete_alias(CHALLENGER)
            scoring_version, scoring_estimator = new_version, new_estimator
        else:
            self.client.set_registered_model_alias(self.model_name, CHALLENGER, new_version)
            if champion.usable:
                scoring_version, scoring_estimator = current, champion_estimator
            else:
                scoring_version, scoring_estimator = None, None
        tags = {
            "promoted": str(promoted),
            "decision": reason[:5000],
            f"holdout_{rule.metric}": f"{new_metrics[rule.metric]:.6f}",
        }
        for key, value in tags.items():
            self.client.set_model_version_tag(self.model_name, new_version, key, value)
        mlflow.set_tags(
            {
                "promoted": str(promoted),
                "champion_version": scoring_version or "rule baseline",
                "champion_decision": reason[:5000],
            }
        )
        if champion.metrics:
            self.log_metrics({f"champion_{k}": v for k, v in champion.metrics.items()})
        return ChampionDecision(
            promoted, scoring_version, current, champion.metrics, reason, scoring_estimator
        )

    def _delete_alias(self, alias: str) -> None:
        from mlflow.exceptions import MlflowException

        with contextlib.suppress(MlflowException):  # the alias may not be set
            self.client.delete_registered_model_alias(self.model_name, alias)

    def result(
        self, version: str, metrics: dict[str, float], decision: ChampionDecision
    ) -> TrackingResult:
        return TrackingResult(
            factor=self.factor,
            tracking_uri=self.tracking.tracking_uri,
            experiment_id=self.experiment_id,
            experiment_name=self.tracking.experiment_name(self.factor),
            run_id=self.run_id,
            model_name=self.model_name,
            model_version=version,
            model_uri=self.model_uri or "",
            promoted=decision.promoted,
            champion_version=decision.scoring_version or "rule",
            previous_champion_version=decision.previous_champion_version,
            metrics=dict(metrics),
            champion_metrics=decision.champion_metrics,
            decision=decision.reason,
        )
