"""The five factor models as assets: read the feature mart, train on a closed window, track in
MLflow (champion/challenger), and write `scores.<factor>_scores` for the newest as-of month.
"""

import datetime as dt

import dagster as dg
import numpy as np
import pandas as pd

from ml.factors import SCORED_BY_RULE, train_and_score
from ml.preprocessing import TooFewLabels
from ml.registry import NOT_SCORED_TIER, REGISTRY, Factor, Registry
from ml.tracking import TrackingConfig
from orchestration.assets.sources import WAREHOUSE_POOL
from orchestration.owners import MODEL_OWNERS
from orchestration.partitions import as_of_months, context_months, history_start, single_run
from orchestration.resources import MlflowResource, WarehouseResource, mlflow_run_tags
from powerseg.warehouse import replace_month, table_exists

# Derived from the factor registry (ml/registry.py), the one place a factor is defined.
FEATURE_MARTS = {f.name: f.feature_mart for f in REGISTRY}
SUPERVISED = set(REGISTRY.supervised)
# Staged tables a factor cannot be modelled without. When one is present but empty (a partial
# extract, allowed with a warning by the raw gates) the factor is skipped: it writes its scored
# month with no scores and tier `not_scored`, so the joins downstream still hold every customer.
REQUIRED_SOURCES = {f.name: f.required_sources for f in REGISTRY}
# The columns each factor's score table has, typed, so a skipped month (or a first run that
# skips) leaves a table of the same shape for marts.customer_factor_scores and later steps.
SCORE_COLUMNS = {f.name: f.score_dtypes() for f in REGISTRY}
MODEL_QUALITY_CHECK = "model_quality"
SKIPPED_VERSION = "skipped"


def empty_sources(con, factor: Factor) -> list[str]:
    """The required staged tables of `factor` that hold no rows."""
    empty = []
    for table in factor.required_sources:
        has_rows = con.execute(
            f"select exists (select 1 from staging.stg_raw__{table})"
        ).fetchone()[0]
        if not has_rows:
            empty.append(table)
    return empty


def not_scored_frame(entry: Factor, customers: pd.DataFrame, score_month) -> pd.DataFrame:
    """Every active customer of the scored month, with no score and tier `not_scored`."""
    frame = pd.DataFrame(
        {
            "customer_id": customers["customer_id"].astype(str).to_numpy(),
            "as_of_month": pd.Timestamp(score_month),
        }
    )
    for column in entry.score_columns:
        frame[column.name] = pd.Series(pd.NA, index=frame.index, dtype=column.dtype)
    # every categorical output the factor feeds says so, never null: tiers, the arrears grade,
    # the preferred channel and digital tier that labels and actions read
    for column in entry.score_columns:
        if column.says_not_scored:
            frame[column.name] = NOT_SCORED_TIER
    frame["model_name"] = entry.model_name
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
    return f"scores.{REGISTRY[factor].score_table}"


def training_months(
    factor: str,
    months: pd.DataFrame,
    score_month: dt.date,
    pools_closed_months: bool | None = None,
) -> list[dt.date]:
    """As-of months to train on for scoring `score_month`: every month of its history window
    whose labels were final by the end of the scored month (supervised factors), so a backfilled
    month learns only from what was known then; unsupervised factors use the newest such month so
    every factor's hold-out lies strictly before the scored month."""
    month_end = (pd.Timestamp(score_month) + pd.offsets.MonthEnd(0)).date()
    known = months["outcome_window_closed"] & (
        pd.to_datetime(months["outcome_known_date"]).dt.date <= month_end
    )
    closed = sorted(pd.to_datetime(months.loc[known, "as_of_month"]).dt.date)
    if not closed:
        raise dg.Failure(
            description=(
                f"{factor}: no as-of month in the marts has outcome labels known by the end of "
                f"{score_month:%Y-%m}; the extract is too short to train on (it needs the outcome "
                "months after a feature month)"
            )
        )
    if pools_closed_months is None:
        pools_closed_months = REGISTRY[factor].pools_closed_months
    return closed if pools_closed_months else closed[-1:]


def build_factor_asset(entry: Factor, registry: Registry = REGISTRY) -> dg.AssetsDefinition:
    """The asset `scores/<factor>_scores` of one registry entry (every factor has this shape)."""
    factor = entry.name
    deps = [dg.AssetKey(["marts", entry.feature_mart])]
    if entry.supervised:
        deps.append(dg.AssetKey(["marts", "fct_outcomes"]))

    key = dg.AssetKey(["scores", entry.score_table])
    check_specs = (
        [
            dg.AssetCheckSpec(
                MODEL_QUALITY_CHECK,
                asset=key,
                blocking=False,
                description=(
                    "Warns when no model version passed the quality floors (hold-out AUC above "
                    "the floor, not below the rule baseline nor the best single feature, enough "
                    "hold-out positives) and the month was scored with the rule baseline."
                ),
            )
        ]
        if entry.supervised
        else []
    )

    @dg.asset(
        key=key,
        check_specs=check_specs,
        deps=deps,
        group_name="factor_models",
        kinds={"scikit-learn", "mlflow", "duckdb"},
        owners=[MODEL_OWNERS],
        pool=WAREHOUSE_POOL,
        partitions_def=as_of_months,
        backfill_policy=single_run,
        description=(
            f"{factor.replace('_', ' ')} scores 0-100 for every active customer of the as-of "
            f"month ({entry.method}). "
            + (
                "Trains on every earlier as-of month of the history window whose outcome labels "
                "were final by the end of the scored month, beside two baselines (the best single "
                "feature and a one-line rule); scores with the champion version, or with the rule "
                "when no version passes the quality floors. "
                if entry.pools_closed_months
                else "Trains on the newest earlier as-of month, scores with the champion version. "
            )
            + "Logs every run to MLflow. A range of months is scored oldest first."
        ),
    )
    def factor_scores(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, mlflow: MlflowResource
    ) -> dg.MaterializeResult:
        per_month = [
            score_month(
                factor,
                month,
                warehouse,
                mlflow,
                context.log,
                mlflow_run_tags(context, month),
                registry,
            )
            for month in context_months(context)
        ]
        metadata = dict(per_month[-1])
        if len(per_month) > 1:
            metadata["dagster/row_count"] = sum(m["dagster/row_count"] for m in per_month)
            metadata["months"] = dg.MetadataValue.json(
                {m["as_of_month"]: _month_summary(m) for m in per_month}
            )
        checks = [model_quality_result(key, per_month)] if entry.supervised else []
        return dg.MaterializeResult(metadata=metadata, check_results=checks)

    return factor_scores


FEATURE_SIGNIFICANT_DIGITS = 12
FEATURE_DECIMALS = 9


def settle(values: np.ndarray) -> np.ndarray:
    """`values` rounded to 12 significant digits but never finer than 9 decimals (zeros, NaN and
    inf stay). DuckDB's parallel sums of doubles differ in the last bits from run to run: a
    revenue of 2e7 CNY carries that noise in its 9th decimal, a ratio of two such sums near zero
    in its 12th significant digit; this rounding settles both."""
    values = np.asarray(values, dtype="float64")
    finite = np.isfinite(values) & (values != 0)
    exponent = np.zeros_like(values)
    exponent[finite] = np.floor(np.log10(np.abs(values[finite])))
    decimals = np.minimum(FEATURE_DECIMALS, FEATURE_SIGNIFICANT_DIGITS - 1 - exponent)
    scale = np.power(10.0, decimals)
    return np.where(finite, np.round(values * scale) / scale, values)


def _settled(frame: pd.DataFrame) -> pd.DataFrame:
    for column in frame.select_dtypes("floating").columns:
        frame[column] = settle(frame[column].to_numpy(dtype="float64"))
    return frame


def model_quality_result(key: dg.AssetKey, per_month: list[dict]) -> dg.AssetCheckResult:
    """Passes when every month was scored by a model version that passed the quality floors;
    a warning naming the months the rule baseline scored, and why, otherwise."""
    ruled = {
        m["as_of_month"]: m.get("quality_floors", "")
        for m in per_month
        if m.get("scored_by") == SCORED_BY_RULE
    }
    skipped = [m["as_of_month"] for m in per_month if m.get("skipped")]
    description = (
        "scored with a model version that passes the quality floors"
        if not ruled
        else "no model version passes the quality floors; scored with the rule baseline in "
        + "; ".join(f"{month}: {why}" for month, why in ruled.items())
    )
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=MODEL_QUALITY_CHECK,
        passed=not ruled,
        severity=dg.AssetCheckSeverity.WARN,
        description=description[:2000],
        metadata={
            "months_scored_by_rule_baseline": dg.MetadataValue.json(sorted(ruled)),
            "months_skipped": dg.MetadataValue.json(skipped),
        },
    )


def _month_summary(metadata: dict) -> dict:
    keys = (
        "dagster/row_count",
        "trained_on",
        "model",
        "scored_by",
        "promoted_to_champion",
        "mean_score",
    )
    return {k: metadata[k] for k in keys if k in metadata}


def score_month(
    factor: str,
    as_of_month: dt.date,
    warehouse: WarehouseResource,
    mlflow: MlflowResource,
    context_log,
    run_tags: dict[str, str] | None = None,
    registry: Registry = REGISTRY,
) -> dict:
    """Train on the months of its history window (the same whatever ran before) whose labels
    were known by the end of `as_of_month`, score it, replace its rows in
    scores.<factor>_scores; return the materialisation metadata of that month."""
    entry = registry[factor]
    mart = entry.feature_mart
    with warehouse.connect(read_only=True) as con:
        skipped_for = empty_sources(con, entry)
        if skipped_for:
            customers = con.execute(
                f"select customer_id from marts.{mart} where as_of_month = ? order by customer_id",
                [as_of_month],
            ).df()
    if skipped_for:
        return _skip(
            context_log, warehouse, entry, skip_message(factor, skipped_for), customers,
            as_of_month, {"empty_sources": ", ".join(f"raw.{t}" for t in skipped_for)},
        )  # fmt: skip
    with warehouse.connect(read_only=True) as con:
        months = con.execute(
            "select as_of_month, bool_and(outcome_window_closed) as outcome_window_closed, "
            "max(outcome_known_date) as outcome_known_date "
            "from marts.fct_outcomes where as_of_month >= ? and as_of_month < ? "
            "group by 1 order by 1",
            [history_start(as_of_month), as_of_month],
        ).df()
        train_months = training_months(factor, months, as_of_month, entry.pools_closed_months)
        # In a fixed order and with DuckDB's parallel-sum noise (last bits of a double) rounded
        # off, so the same month trains the same model whichever run builds it.
        features = _settled(
            con.execute(
                f"select * from marts.{mart} where as_of_month in (select unnest(?)) "
                "or as_of_month = ? order by as_of_month, customer_id",
                [train_months, as_of_month],
            ).df()
        )
        outcomes = (
            con.execute(
                "select * from marts.fct_outcomes where as_of_month in (select unnest(?)) "
                "order by as_of_month, customer_id",
                [train_months],
            ).df()
            if entry.supervised
            else None
        )
        previous = _previous_scores(con, entry, as_of_month)
        extract_start = con.execute(
            "select min(extract_start_date) from staging.stg_raw__extract_window"
        ).fetchone()[0]
    month = pd.to_datetime(features["as_of_month"]).dt.date
    features_score = features[month == as_of_month]
    features_train = features[month.isin(train_months)]
    if features_score.empty:
        raise dg.Failure(description=f"{factor}: marts.{mart} has no rows for {as_of_month}")

    try:
        result = train_and_score(
            factor,
            features_train,
            outcomes,
            features_score,
            previous_scores=previous,
            tracking=TrackingConfig(
                mlflow.tracking_uri, artifact_root=mlflow.artifact_dir, run_tags=run_tags or {}
            ),
            registry=registry,
        )
    except TooFewLabels as exc:
        message = (
            f"{factor} skipped for {as_of_month:%Y-%m}: {exc} in the training months "
            f"{', '.join(f'{m:%Y-%m}' for m in train_months)}; every active customer of the month "
            f"is written with no score and tier '{NOT_SCORED_TIER}'"
        )
        return _skip(
            context_log, warehouse, entry, message, features_score, as_of_month,
            {"skipped_for": "too few labels"},
        )  # fmt: skip
    with warehouse.connect() as con:
        written = replace_month(con, f"scores.{entry.score_table}", result.scores, as_of_month)

    tracking = result.tracking
    metadata = {
        "dagster/row_count": written,
        "as_of_month": str(as_of_month),
        "trained_on": result.windows.train_as_of_month,
        "outcome_window": (
            f"{result.windows.outcome_window_start}..{result.windows.outcome_window_end}"
            if result.windows.outcome_window_start
            else "unsupervised"
        ),
        "training_months": ", ".join(result.training_months),
        "scored_by": result.scored_by,
        "rows": dg.MetadataValue.json(result.row_counts),
        "mean_score": float(result.scores["score"].mean()),
        "tier_shares": dg.MetadataValue.json(
            result.scores["tier"].value_counts(normalize=True).round(4).to_dict()
        ),
    }
    if result.quality_failures:
        metadata["quality_floors"] = "; ".join(result.quality_failures)
    if entry.supervised:
        metadata["baselines"] = dg.MetadataValue.json(
            {
                k: round(float(result.metrics[k]), 4)
                for k in ("auc", "auc_low", "auc_high", *BASELINE_METRICS)
                if k in result.metrics and np.isfinite(result.metrics[k])
            }
        )
    drifting = {k: round(v, 3) for k, v in result.feature_psi.items() if v >= DRIFT_PSI}
    if drifting:
        metadata["drifting_features"] = dg.MetadataValue.json(drifting)
    metadata.update(history_metadata(extract_start, as_of_month))
    if tracking is not None:
        metadata.update(
            {
                "mlflow_run_id": tracking.run_id,
                "mlflow_run": dg.MetadataValue.url(
                    mlflow.run_url(tracking.experiment_id, tracking.run_id)
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
    return metadata


BASELINE_METRICS = ("baseline_rule_auc", "baseline_best_feature_auc", "holdout_positives")
DRIFT_PSI = 0.25  # a feature whose PSI between training and scoring is this high has shifted
LONGEST_WINDOW_MONTHS = 12  # the marts' longest feature window (the 12-month sums and rates)


def history_metadata(extract_start, as_of_month: dt.date) -> dict:
    """How many months of history the month's features rest on; on a short extract, a note that
    the 12-month windows cover only those."""
    if extract_start is None:
        return {}
    start = pd.Timestamp(extract_start)
    months = (as_of_month.year - start.year) * 12 + as_of_month.month - start.month + 1
    available = max(0, min(months, LONGEST_WINDOW_MONTHS))
    out = {"history_months_available": available}
    if available < LONGEST_WINDOW_MONTHS:
        out["short_history"] = (
            f"the extract starts {start:%Y-%m}: the {LONGEST_WINDOW_MONTHS}-month windows of "
            f"{as_of_month:%Y-%m} cover only its {available} months"
        )
    return out


def _skip(log, warehouse, entry: Factor, message, customers, score_month, details) -> dict:
    log.warning(message)
    score_date = pd.Timestamp(score_month).date()
    frame = not_scored_frame(entry, customers, score_month)
    with warehouse.connect() as con:
        written = replace_month(con, f"scores.{entry.score_table}", frame, score_date)
    return {
        "dagster/row_count": written,
        "as_of_month": str(score_date),
        "skipped": True,
        "skipped_reason": message,
        **details,
    }


def _previous_scores(con, entry: Factor, score_month) -> pd.DataFrame | None:
    table = f"scores.{entry.score_table}"
    if not table_exists(con, table):
        return None
    frame = con.execute(
        # A skipped month has no scores: compare with the last month that was scored.
        f"select score from {table} where score is not null and as_of_month = "
        f"(select max(as_of_month) from {table} where as_of_month < ? and score is not null)",
        [score_month],
    ).df()
    return frame if len(frame) else None


def build_factor_assets(registry: Registry = REGISTRY) -> list[dg.AssetsDefinition]:
    return [build_factor_asset(entry, registry) for entry in registry]


factor_assets = build_factor_assets()
