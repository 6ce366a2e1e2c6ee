"""The five factor models as assets: read the feature mart, train on a closed window, track in
MLflow (champion/challenger), and write `scores.<factor>_scores` for the newest as-of month.
"""

import datetime as dt

import dagster as dg
import pandas as pd

from ml.config import FACTORS
from ml.factors import train_and_score
from ml.tracking import TrackingConfig
from orchestration.assets.sources import WAREHOUSE_POOL
from orchestration.resources import MlflowResource, WarehouseResource
from powerseg.warehouse import replace_month

FEATURE_MARTS = {
    "contribution": "fct_features_contribution",
    "outage_sensitivity": "fct_features_outage_sensitivity",
    "arrears": "fct_features_arrears",
    "channel_activity": "fct_features_channel_activity",
    "inspection": "fct_features_inspection",
}
SUPERVISED = {"outage_sensitivity", "arrears", "inspection"}
# Inspection labels exist only for inspected customers: every closed month is needed to learn.
TRAIN_ON_ALL_CLOSED_MONTHS = {"inspection"}
METHODS = {
    "contribution": "fuzzy c-means value levels",
    "outage_sensitivity": "logistic regression on outage exposure and contact history",
    "arrears": "WOE scorecard (optimal binning + logistic regression)",
    "channel_activity": "entropy-weighted recency/frequency/breadth activity index",
    "inspection": "depth-limited decision tree with readable rule paths",
}


# Staged tables a factor cannot be modelled without. When one is present but empty (a partial
# extract, allowed with a warning by the raw gates) the factor is skipped: it writes its scored
# month with no scores and tier `not_scored`, so the joins downstream still hold every customer.
REQUIRED_SOURCES = {
    "contribution": ("bills",),
    "outage_sensitivity": ("outages", "work_orders"),
    "arrears": ("bills", "payments"),
    "channel_activity": ("channel_interactions",),
    "inspection": ("inspections",),
}
NOT_SCORED_TIER = "not_scored"
SKIPPED_VERSION = "skipped"
# The columns each factor's score table has, typed, so a skipped month (or a first run that
# skips) leaves a table of the same shape for marts.customer_factor_scores and later steps.
_REASONS = {"reason_1": "string", "reason_2": "string", "reason_3": "string"}
SCORE_COLUMNS = {
    "contribution": {
        "score": "Float64",
        "level": "Int64",
        "tier": "string",
        **{f"membership_{i}": "Float64" for i in range(1, 6)},
    },
    "outage_sensitivity": {
        "probability": "Float64",
        "score": "Float64",
        "tier": "string",
        **_REASONS,
    },
    "arrears": {
        "probability": "Float64",
        "score": "Float64",
        "points": "Float64",
        "grade": "string",
        "tier": "string",
        **_REASONS,
    },
    "channel_activity": {
        "score": "Float64",
        "tier": "string",
        "preferred_channel": "string",
        "digital_share": "Float64",
        "digital_tier": "string",
    },
    "inspection": {
        "probability": "Float64",
        "score": "Float64",
        "tier": "string",
        "reason": "string",
    },
}


def empty_sources(con, factor: str) -> list[str]:
    """The required staged tables of `factor` that hold no rows."""
    empty = []
    for table in REQUIRED_SOURCES[factor]:
        has_rows = con.execute(
            f"select exists (select 1 from staging.stg_raw__{table})"
        ).fetchone()[0]
        if not has_rows:
            empty.append(table)
    return empty


def not_scored_frame(factor: str, customers: pd.DataFrame, score_month) -> pd.DataFrame:
    """Every active customer of the scored month, with no score and tier `not_scored`."""
    frame = pd.DataFrame(
        {
            "customer_id": customers["customer_id"].astype(str).to_numpy(),
            "as_of_month": pd.Timestamp(score_month),
        }
    )
    for column, dtype in SCORE_COLUMNS[factor].items():
        frame[column] = pd.Series(pd.NA, index=frame.index, dtype=dtype)
    frame["tier"] = NOT_SCORED_TIER
    frame["model_name"] = f"powerseg_{factor}"
    frame["model_version"] = SKIPPED_VERSION
    return frame


def skip_message(factor: str, tables: list[str]) -> str:
    listed = ", ".join(f"raw.{t}" for t in tables)
    return (
        f"{factor} skipped: {listed} {'is' if len(tables) == 1 else 'are'} empty in this extract "
        f"(no staged rows), so the model cannot be trained or scored; every active customer of "
        f"the month is written with no score and tier '{NOT_SCORED_TIER}'"
    )


def scores_table(factor: str) -> str:
    return f"scores.{factor}_scores"


def training_months(factor: str, months: pd.DataFrame) -> list[dt.date]:
    """As-of months to train on: the newest month whose outcome window has closed (all closed
    months for inspection); unsupervised factors use the same month so every factor's hold-out
    lies strictly before the scored month."""
    closed = sorted(months.loc[months["outcome_window_closed"], "as_of_month"])
    if not closed:
        raise dg.Failure(
            description=(
                f"{factor}: no as-of month in the marts has a closed outcome window; the extract "
                "is too short to train on (it needs the outcome months after a feature month)"
            )
        )
    return closed if factor in TRAIN_ON_ALL_CLOSED_MONTHS else closed[-1:]


def _mlflow_link(tracking_uri: str, experiment_id: str, run_id: str) -> str:
    if tracking_uri.startswith(("http://", "https://")):
        return f"{tracking_uri.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"
    return f"http://127.0.0.1:5000/#/experiments/{experiment_id}/runs/{run_id} (make mlflow)"


def build_factor_asset(factor: str) -> dg.AssetsDefinition:
    mart = FEATURE_MARTS[factor]
    deps = [dg.AssetKey(["marts", mart])]
    if factor in SUPERVISED:
        deps.append(dg.AssetKey(["marts", "fct_outcomes"]))

    @dg.asset(
        key=["scores", f"{factor}_scores"],
        deps=deps,
        group_name="factor_models",
        kinds={"scikit-learn", "mlflow", "duckdb"},
        owners=["team:model-owners"],
        pool=WAREHOUSE_POOL,
        description=(
            f"{factor.replace('_', ' ')} scores 0-100 for every active customer of the newest "
            f"as-of month ({METHODS[factor]}). Trains on the newest as-of month whose outcome "
            "window has closed, logs the run to MLflow and scores with the champion version."
        ),
    )
    def factor_scores(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, mlflow: MlflowResource
    ) -> dg.MaterializeResult:
        with warehouse.connect(read_only=True) as con:
            months = con.execute(
                "select as_of_month, bool_and(outcome_window_closed) as outcome_window_closed "
                "from marts.fct_outcomes group by 1 order by 1"
            ).df()
            if months.empty:
                raise dg.Failure(description=f"{factor}: marts.fct_outcomes is empty")
            score_month = months["as_of_month"].max()
            skipped_for = empty_sources(con, factor)
            if skipped_for:
                customers = con.execute(
                    f"select customer_id from marts.{mart} where as_of_month = ? "
                    "order by customer_id",
                    [score_month],
                ).df()
        if skipped_for:
            return _skip(context, warehouse, factor, skipped_for, customers, score_month)
        with warehouse.connect(read_only=True) as con:
            train_months = training_months(factor, months)
            features = con.execute(
                f"select * from marts.{mart} where as_of_month in (select unnest(?)) "
                "or as_of_month = ?",
                [train_months, score_month],
            ).df()
            outcomes = (
                con.execute(
                    "select * from marts.fct_outcomes where as_of_month in (select unnest(?))",
                    [train_months],
                ).df()
                if factor in SUPERVISED
                else None
            )
            previous = _previous_scores(con, factor, score_month)
        month = pd.to_datetime(features["as_of_month"]).dt.date
        score_date = pd.Timestamp(score_month).date()
        features_score = features[month == score_date]
        features_train = features[month.isin([pd.Timestamp(m).date() for m in train_months])]
        if features_score.empty:
            raise dg.Failure(description=f"{factor}: marts.{mart} has no rows for {score_date}")

        result = train_and_score(
            factor,
            features_train,
            outcomes,
            features_score,
            previous_scores=previous,
            tracking=TrackingConfig(mlflow.tracking_uri),
        )
        with warehouse.connect() as con:
            written = replace_month(con, scores_table(factor), result.scores, score_date)

        tracking = result.tracking
        metadata = {
            "dagster/row_count": written,
            "as_of_month": str(score_date),
            "trained_on": result.windows.train_as_of_month,
            "outcome_window": (
                f"{result.windows.outcome_window_start}..{result.windows.outcome_window_end}"
                if result.windows.outcome_window_start
                else "unsupervised"
            ),
            "rows": dg.MetadataValue.json(result.row_counts),
            "mean_score": float(result.scores["score"].mean()),
            "tier_shares": dg.MetadataValue.json(
                result.scores["tier"].value_counts(normalize=True).round(4).to_dict()
            ),
        }
        if tracking is not None:
            metadata.update(
                {
                    "mlflow_run_id": tracking.run_id,
                    "mlflow_run": dg.MetadataValue.url(
                        _mlflow_link(tracking.tracking_uri, tracking.experiment_id, tracking.run_id)
                    ),
                    "model": f"{tracking.model_name} v{tracking.model_version}",
                    "promoted_to_champion": tracking.promoted,
                    "scored_with_version": tracking.champion_version,
                    "decision": tracking.decision,
                    "metrics": dg.MetadataValue.json(
                        {k: round(float(v), 4) for k, v in tracking.metrics.items()}
                    ),
                }
            )
        metadata["preview"] = dg.MetadataValue.md(
            result.scores.head(10).drop(columns=["as_of_month"]).to_markdown(index=False)
        )
        return dg.MaterializeResult(metadata=metadata)

    return factor_scores


def _skip(context, warehouse, factor, tables, customers, score_month) -> dg.MaterializeResult:
    message = skip_message(factor, tables)
    context.log.warning(message)
    score_date = pd.Timestamp(score_month).date()
    frame = not_scored_frame(factor, customers, score_month)
    with warehouse.connect() as con:
        written = replace_month(con, scores_table(factor), frame, score_date)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": written,
            "as_of_month": str(score_date),
            "skipped": True,
            "skipped_reason": message,
            "empty_sources": ", ".join(f"raw.{t}" for t in tables),
        }
    )


def _previous_scores(con, factor: str, score_month) -> pd.DataFrame | None:
    table = scores_table(factor)
    exists = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'scores' and table_name = ?",
        [f"{factor}_scores"],
    ).fetchone()[0]
    if not exists:
        return None
    frame = con.execute(
        # A skipped month has no scores: compare with the last month that was scored.
        f"select score from {table} where score is not null and as_of_month = "
        f"(select max(as_of_month) from {table} where as_of_month < ? and score is not null)",
        [score_month],
    ).df()
    return frame if len(frame) else None


factor_assets = [build_factor_asset(f) for f in FACTORS]
