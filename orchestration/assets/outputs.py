"""What service staff consume: segments, label sets, points, service actions, their exports and
the segment report, for the newest as-of month of `marts.customer_factor_scores`.
"""

import datetime as dt
import os
import string
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from ml.display import DisplayText
from ml.labels import evaluate_labels, label_frequencies, required_columns, rule_names
from ml.points import points_balance, points_ledger, validate_points_rules
from ml.segmentation import (
    SegmentationConfig,
    log_segmentation_run,
    segment_customers,
    segment_migration,
)
from ml.strategy import SURVEY_COLUMNS, StrategyConfig, build_service_strategy
from ml.tracking import TrackingConfig
from orchestration.assets.sources import WAREHOUSE_POOL
from orchestration.partitions import as_of_months, context_months, months_in_range, single_run
from orchestration.resources import MlflowResource, WarehouseResource, mlflow_run_tags
from powerseg.settings import Settings
from powerseg.warehouse import replace_month

OWNER = "team:customer-insight"
SCORES = dg.AssetKey(["marts", "customer_factor_scores"])
CUSTOMER_360 = dg.AssetKey(["marts", "customer_360"])
FEATURE_MARTS = (
    "fct_features_contribution",
    "fct_features_outage_sensitivity",
    "fct_features_arrears",
    "fct_features_channel_activity",
    "fct_features_inspection",
)
# where rule inputs that customer_factor_scores lacks are looked up, first table first
PORTRAIT_SOURCES = ("marts.customer_360", *(f"marts.{mart}" for mart in FEATURE_MARTS))
PORTRAIT_DEPS = [SCORES, CUSTOMER_360, *(dg.AssetKey(["marts", m]) for m in FEATURE_MARTS)]
SURVEYS = dg.AssetKey(["staging", "stg_raw__satisfaction_surveys"])
LABEL_REGISTRY = dg.AssetKey(["staging", "label_registry"])
POINTS_RULES = dg.AssetKey(["staging", "points_rules"])
STRATEGY_RULES = dg.AssetKey(["staging", "strategy_rules"])
DISPLAY_TEXT = dg.AssetKey(["staging", "display_text"])

OUTPUT_TABLES = (
    "customer_segments",
    "segment_profiles",
    "segment_migration",
    "customer_labels",
    "points_ledger",
    "points_balance",
    "segment_strategy_matrix",
    "customer_service_actions",
)
DATE_COLUMNS = ("as_of_month", "previous_as_of_month", "valid_until")
# declared up front: the first month has no migration, and an empty frame carries no types
MIGRATION_DDL = (
    "create table if not exists outputs.segment_migration (as_of_month date, "
    "previous_as_of_month date, from_segment_id varchar, to_segment_id varchar, customers bigint)"
)
MIGRATION_COLUMNS = (
    "as_of_month",
    "previous_as_of_month",
    "from_segment_id",
    "to_segment_id",
    "customers",
)


# Every output belongs to an as-of month, writes the warehouse, and builds a range in one run.
MONTHLY_WRITER = {
    "pool": WAREHOUSE_POOL,
    "partitions_def": as_of_months,
    "backfill_policy": single_run,
}


def output_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(["outputs", table])


# --------------------------------------------------------------------------- warehouse helpers


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    schema, name = table.split(".")
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? "
            "and table_name = ?",
            [schema, name],
        ).fetchone()[0]
    )


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    schema, name = table.split(".")
    rows = con.execute(
        "select column_name from information_schema.columns where table_schema = ? "
        "and table_name = ? order by ordinal_position",
        [schema, name],
    ).fetchall()
    return [r[0] for r in rows]


def newest_scored_month(con: duckdb.DuckDBPyConnection) -> dt.date:
    value = con.execute("select max(as_of_month) from marts.customer_factor_scores").fetchone()[0]
    if value is None:
        raise dg.Failure(
            description="marts.customer_factor_scores is empty: run the factor models first"
        )
    return pd.Timestamp(value).date()


def month_rows(con: duckdb.DuckDBPyConnection, table: str, month: dt.date) -> pd.DataFrame:
    return con.execute(f"select * from {table} where as_of_month = ?", [month]).df()


def previous_month_rows(
    con: duckdb.DuckDBPyConnection, table: str, month: dt.date
) -> pd.DataFrame | None:
    """Rows of the newest month before `month` in an output table (None when there is none)."""
    if not table_exists(con, table):
        return None
    frame = con.execute(
        f"select * from {table} where as_of_month = "
        f"(select max(as_of_month) from {table} where as_of_month < ?)",
        [month],
    ).df()
    return frame if len(frame) else None


def read_seed(con: duckdb.DuckDBPyConnection, name: str) -> pd.DataFrame:
    """A rules seed as dbt loaded it, as text (the ml loaders validate and type it)."""
    table = f"staging.{name}"
    if not table_exists(con, table):
        raise dg.Failure(
            description=f"the dbt seed {table} is missing: run `dbt seed` (dbt_models)"
        )
    return con.execute(f"select * from {table}").df().fillna("").astype(str)


def display_text(con: duckdb.DuckDBPyConnection) -> DisplayText:
    """The display texts dbt loaded, in the locale of POWERSEG_LOCALE."""
    return DisplayText.from_frame(read_seed(con, "display_text"), Settings.from_env().locale)


def with_dates(frame: pd.DataFrame) -> pd.DataFrame:
    """Month and expiry columns as DATE in the warehouse (pandas would write TIMESTAMP); Arrow
    dates, because a million Python date objects take seconds to make and to scan."""
    frame = frame.copy()
    for column in DATE_COLUMNS:
        if column in frame.columns:
            frame[column] = pd.to_datetime(frame[column]).astype("date32[pyarrow]")
    return frame


def write_month(con, table: str, frame: pd.DataFrame, month: dt.date) -> int:
    return replace_month(con, f"outputs.{table}", with_dates(frame), month)


def replace_table(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> int:
    """Replace a derived table whole, in one transaction (points balances: recomputed from every
    month's ledger, so they stay right when an earlier month is re-run)."""
    con.register("_replace_table_frame", frame)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {table.split('.')[0]}")
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM _replace_table_frame")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("_replace_table_frame")
    return len(frame)


def template_fields(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def rule_inputs(
    label_registry: pd.DataFrame | None = None,
    points_rules: pd.DataFrame | None = None,
    strategy_rules: pd.DataFrame | None = None,
) -> set[str]:
    """Every column the label, points and strategy rules read (reason templates included)."""
    columns: set[str] = set()
    if label_registry is not None:
        columns |= required_columns(label_registry)
    if points_rules is not None:
        for rule in points_rules.itertuples(index=False):
            columns |= rule_names(rule.condition) | rule_names(str(rule.points))
    if strategy_rules is not None:
        for rule in strategy_rules.itertuples(index=False):
            columns |= rule_names(rule.applies_when) | template_fields(rule.reason)
    return columns


def portrait_frame(
    con: duckdb.DuckDBPyConnection, month: dt.date, columns: Iterable[str]
) -> pd.DataFrame:
    """The month's factor scores with the customer_360 and feature-mart columns the rules read.

    One row per scored customer. Columns found nowhere are left out: the rule evaluator then
    names the rule and the missing column.
    """
    scores_columns = set(table_columns(con, "marts.customer_factor_scores"))
    wanted = sorted(set(columns) - scores_columns)
    select, joins, params = ["s.*"], [], []
    for position, table in enumerate(PORTRAIT_SOURCES):
        available = set(table_columns(con, table))
        found = [c for c in wanted if c in available]
        if not found:
            continue
        alias = f"m{position}"
        select += [f"{alias}.{c}" for c in found]
        joins.append(
            f"left join {table} {alias} on {alias}.customer_id = s.customer_id "
            f"and {alias}.as_of_month = ?"
        )
        params.append(month)
        wanted = [c for c in wanted if c not in found]
    sql = (
        f"select {', '.join(select)} from marts.customer_factor_scores s {' '.join(joins)} "
        "where s.as_of_month = ? order by s.customer_id"
    )
    frame = con.execute(sql, [*params, month]).df()
    if frame.empty:
        raise dg.Failure(description=f"marts.customer_factor_scores has no rows for {month}")
    return frame


def output_dirs(warehouse: WarehouseResource) -> tuple[Path, Path]:
    """(exports, reports) folders: those of POWERSEG_DATA_DIR when it is set and describes this
    run's warehouse (the CLI and `make dev` set it), else beside the warehouse file (a run
    configured in code, as in tests; also the default layout)."""
    warehouse_path = Path(warehouse.path).resolve()
    if "POWERSEG_DATA_DIR" in os.environ:
        settings = Settings.from_env()
        if warehouse_path == settings.warehouse_path:
            return settings.exports_dir, settings.reports_dir
    return warehouse_path.parent / "exports", warehouse_path.parent / "reports"


def each_month(context: dg.AssetExecutionContext, build_month) -> Iterator[dg.MaterializeResult]:
    """Run `build_month(month)` for every as-of month of the run, oldest first (a month reads the
    month before it: segment ids, migration, balances), and report each asset once: the newest
    month's metadata plus the rows written per month when the run covers a range."""
    per_month = {month: list(build_month(month)) for month in context_months(context)}
    newest = list(per_month)[-1]
    if len(per_month) == 1:
        yield from per_month[newest]
        return
    for position, result in enumerate(per_month[newest]):
        metadata = dict(result.metadata or {})
        metadata["rows_per_month"] = dg.MetadataValue.json(
            {str(month): _row_count(results[position]) for month, results in per_month.items()}
        )
        yield dg.MaterializeResult(asset_key=result.asset_key, metadata=metadata)


def _row_count(result: dg.MaterializeResult):
    value = (result.metadata or {}).get("dagster/row_count")
    return getattr(value, "value", value)


def run_months(context: dg.AssetCheckExecutionContext, con: duckdb.DuckDBPyConnection):
    """The as-of months the check's run materialised (its partition tags), else the newest."""
    tags = context.op_execution_context.run.tags
    if "dagster/partition" in tags:
        return [dt.date.fromisoformat(tags["dagster/partition"])]
    start = tags.get("dagster/asset_partition_range_start")
    if start:
        return months_in_range(start, tags["dagster/asset_partition_range_end"])
    return [newest_scored_month(con)]


def preview(frame: pd.DataFrame, rows: int = 10) -> dg.MetadataValue:
    shown = frame.head(rows).drop(columns=["as_of_month"], errors="ignore")
    return dg.MetadataValue.md(shown.to_markdown(index=False))


# --------------------------------------------------------------------------- segmentation


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            output_key("customer_segments"),
            deps=[SCORES],
            description=(
                "One row per active customer: level-1 category (versioned rules, customer_360) "
                "and level-2 segment (k-means on the five factor scores, k ≤ 7 chosen by "
                "silhouette, no cluster under 5 % of its category; small categories split by a "
                "value × risk tier grid), named from its profile."
            ),
            kinds={"scikit-learn", "mlflow", "duckdb"},
            owners=[OWNER],
        ),
        dg.AssetSpec(
            output_key("segment_profiles"),
            deps=[SCORES],
            description=(
                "One row per segment: size, share of its category and of all customers, mean "
                "factor scores, and each factor's index against the population on −1…+1."
            ),
            kinds={"duckdb"},
            owners=[OWNER],
        ),
        dg.AssetSpec(
            output_key("segment_migration"),
            deps=[SCORES],
            description=(
                "Customers per (previous month's segment, this month's segment) against the "
                "previous as-of month in outputs.customer_segments; empty for the first month."
            ),
            kinds={"duckdb"},
            owners=[OWNER],
        ),
    ],
    group_name="segmentation",
    **MONTHLY_WRITER,
    name="segments",
)
def segments(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, mlflow: MlflowResource
):
    yield from each_month(
        context,
        lambda month: _segments_month(month, warehouse, mlflow, mlflow_run_tags(context, month)),
    )


def _segments_month(
    month: dt.date, warehouse: WarehouseResource, mlflow: MlflowResource, run_tags: dict
):
    config = SegmentationConfig()
    started = time.perf_counter()
    with warehouse.connect(read_only=True) as con:
        scores = month_rows(con, "marts.customer_factor_scores", month)
        previous_profiles = previous_month_rows(con, "outputs.segment_profiles", month)
        previous_segments = previous_month_rows(con, "outputs.customer_segments", month)
    result = segment_customers(scores, config, previous_profiles)
    run = log_segmentation_run(
        result,
        TrackingConfig(mlflow.tracking_uri, artifact_root=mlflow.artifact_dir, run_tags=run_tags),
        config,
    )
    if previous_segments is not None:
        migration = segment_migration(previous_segments, result.customer_segments)
    else:
        migration = pd.DataFrame(columns=list(MIGRATION_COLUMNS))
    with warehouse.connect() as con:
        con.execute("create schema if not exists outputs")
        con.execute(MIGRATION_DDL)
        written = {
            "customer_segments": write_month(
                con, "customer_segments", result.customer_segments, month
            ),
            "segment_profiles": write_month(
                con, "segment_profiles", result.segment_profiles, month
            ),
            "segment_migration": write_month(con, "segment_migration", migration, month),
        }
    seconds = round(time.perf_counter() - started, 2)
    categories = result.summary["categories"]
    link = dg.MetadataValue.url(mlflow.run_url(run.experiment_id, run.run_id))
    profiles = result.segment_profiles
    yield dg.MaterializeResult(
        asset_key=output_key("customer_segments"),
        metadata={
            "dagster/row_count": written["customer_segments"],
            "as_of_month": str(month),
            "segments": len(profiles),
            "segments_per_category": dg.MetadataValue.json(
                {c: int(info["k"]) for c, info in categories.items()}
            ),
            "method_per_category": dg.MetadataValue.json(
                {c: info["method"] for c, info in categories.items()}
            ),
            "silhouette_per_category": dg.MetadataValue.json(
                {
                    c: float(info["silhouette"])
                    for c, info in categories.items()
                    if pd.notna(info.get("silhouette"))
                }
            ),
            "smallest_share_in_category": float(profiles["share"].min()),
            "factors_not_scored": ", ".join(result.summary["factors_not_scored"]) or "none",
            "mlflow_run_id": run.run_id,
            "mlflow_run": link,
            "seconds": seconds,
            "preview": preview(result.customer_segments),
        },
    )
    yield dg.MaterializeResult(
        asset_key=output_key("segment_profiles"),
        metadata={
            "dagster/row_count": written["segment_profiles"],
            "as_of_month": str(month),
            "ids_carried_from": (
                str(pd.Timestamp(previous_profiles["as_of_month"].iloc[0]).date())
                if previous_profiles is not None
                else "none (first month)"
            ),
            "profiles": dg.MetadataValue.md(
                profiles[["segment_id", "segment_name", "size", "share"]].to_markdown(index=False)
            ),
        },
    )
    stayed = migration.loc[migration["from_segment_id"] == migration["to_segment_id"], "customers"]
    yield dg.MaterializeResult(
        asset_key=output_key("segment_migration"),
        metadata={
            "dagster/row_count": written["segment_migration"],
            "as_of_month": str(month),
            "previous_as_of_month": (
                str(pd.Timestamp(migration["previous_as_of_month"].iloc[0]).date())
                if len(migration)
                else "none"
            ),
            "customers_in_both_months": int(migration["customers"].sum()),
            "stayed_share": (
                round(float(stayed.sum() / migration["customers"].sum()), 4)
                if len(migration)
                else None
            ),
        },
    )


@dg.asset_check(
    asset=output_key("customer_segments"),
    blocking=True,
    description=(
        "Every customer scored this month sits in exactly one segment, and each category has at "
        "most 7 segments, none under 5 % of the category."
    ),
)
def segments_cover_customers_within_limits(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    config = SegmentationConfig()
    per_month = {}
    with warehouse.connect(read_only=True) as con:
        for month in run_months(context, con):
            per_month[str(month)] = _segment_coverage(con, month, config)
    passed = all(result.pop("passed") for result in per_month.values())
    newest = per_month[max(per_month)]
    metadata = {"as_of_month": max(per_month), **newest}
    if len(per_month) > 1:
        metadata["per_month"] = dg.MetadataValue.json(
            {m: {k: v for k, v in r.items() if isinstance(v, int)} for m, r in per_month.items()}
        )
    return dg.AssetCheckResult(passed=passed, metadata=metadata)


def _segment_coverage(con: duckdb.DuckDBPyConnection, month: dt.date, config) -> dict:
    scored, segmented, distinct, missing = con.execute(
        "select (select count(*) from marts.customer_factor_scores where as_of_month = ?), "
        "count(*), count(distinct customer_id), "
        "(select count(*) from marts.customer_factor_scores s where as_of_month = ? and "
        " not exists (select 1 from outputs.customer_segments o where o.as_of_month = ? "
        " and o.customer_id = s.customer_id)) "
        "from outputs.customer_segments where as_of_month = ?",
        [month, month, month, month],
    ).fetchone()
    limits = con.execute(
        "select level1_category, count(*) as segments, min(share) as smallest_share "
        "from outputs.segment_profiles where as_of_month = ? group by 1 order by 1",
        [month],
    ).df()
    too_many = limits.loc[limits["segments"] > config.max_clusters, "level1_category"].tolist()
    too_small = limits.loc[
        limits["smallest_share"] < config.min_cluster_share - 1e-9, "level1_category"
    ].tolist()
    return {
        "passed": scored == segmented == distinct
        and missing == 0
        and not too_many
        and not too_small,
        "scored_customers": int(scored),
        "segment_rows": int(segmented),
        "distinct_customers": int(distinct),
        "scored_without_segment": int(missing),
        "categories_over_7_segments": dg.MetadataValue.json(too_many),
        "categories_with_segment_under_5pct": dg.MetadataValue.json(too_small),
    }


# --------------------------------------------------------------------------- labels


@dg.asset(
    key=output_key("customer_labels"),
    deps=[*PORTRAIT_DEPS, LABEL_REGISTRY],
    group_name="labels",
    kinds={"duckdb"},
    owners=[OWNER],
    **MONTHLY_WRITER,
    description=(
        "The customer portrait: one row per customer and label carried this month (basic, "
        "consumption, payment, service, value, risk), from the label_registry seed, with a score "
        "and the date the label expires. Every month is kept; a re-run replaces only its month."
    ),
)
def customer_labels(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    yield from each_month(context, lambda month: _customer_labels_month(month, warehouse))


def _customer_labels_month(month: dt.date, warehouse: WarehouseResource):
    started = time.perf_counter()
    with warehouse.connect(read_only=True) as con:
        registry = read_seed(con, "label_registry")
        frame = portrait_frame(con, month, rule_inputs(label_registry=registry))
    labels = evaluate_labels(frame, registry)
    with warehouse.connect() as con:
        written = write_month(con, "customer_labels", labels, month)
    counts = label_frequencies(labels, registry, n_customers=len(frame))
    flags = counts[counts["value"] == "true"].sort_values("share", ascending=False)
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": written,
            "as_of_month": str(month),
            "customers": len(frame),
            "labels_in_registry": len(registry),
            "labels_per_customer": round(written / max(len(frame), 1), 2),
            # labels whose rule gave them to more customers than the registry's max_share allows
            "labels_capped": dg.MetadataValue.json(
                {
                    code: {"by_rule": by_rule, "kept": kept}
                    for code, (by_rule, kept) in labels.attrs.get("capped", {}).items()
                }
            ),
            "seconds": round(time.perf_counter() - started, 2),
            "yes_no_label_shares": dg.MetadataValue.md(
                flags[["dimension", "label_code", "customers", "share"]]
                .round(4)
                .to_markdown(index=False)
            ),
            "preview": preview(labels),
        }
    )


# --------------------------------------------------------------------------- points


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            output_key("points_ledger"),
            deps=[*PORTRAIT_DEPS, POINTS_RULES],
            description=(
                "Loyalty points per customer and month, one row per rule of the points_rules seed "
                "that granted points (rule code and version kept)."
            ),
            kinds={"duckdb"},
            owners=[OWNER],
        ),
        dg.AssetSpec(
            output_key("points_balance"),
            deps=[output_key("points_ledger")],
            description=(
                "Points earned and running balance per customer and month, recomputed from every "
                "month's ledger (so re-running a month keeps later balances right)."
            ),
            kinds={"duckdb"},
            owners=[OWNER],
        ),
    ],
    group_name="service",
    **MONTHLY_WRITER,
    name="points",
)
def points(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    yield from each_month(context, lambda month: _points_month(month, warehouse))


def _points_month(month: dt.date, warehouse: WarehouseResource):
    started = time.perf_counter()
    with warehouse.connect(read_only=True) as con:
        rules = validate_points_rules(read_seed(con, "points_rules"))
        frame = portrait_frame(con, month, rule_inputs(points_rules=rules))
    ledger = points_ledger(frame, rules)
    with warehouse.connect() as con:
        written = write_month(con, "points_ledger", ledger, month)
        every_month = con.execute("select * from outputs.points_ledger").df()
        balance = with_dates(points_balance(every_month))
        balance_rows = replace_table(con, "outputs.points_balance", balance)
    this_month = balance[balance["as_of_month"] == month]
    yield dg.MaterializeResult(
        asset_key=output_key("points_ledger"),
        metadata={
            "dagster/row_count": written,
            "as_of_month": str(month),
            "customers_earning": int(ledger["customer_id"].nunique()),
            "points_granted": int(ledger["points"].sum()),
            "points_by_rule": dg.MetadataValue.json(
                {k: int(v) for k, v in ledger.groupby("rule_code")["points"].sum().items()}
            ),
            "seconds": round(time.perf_counter() - started, 2),
        },
    )
    yield dg.MaterializeResult(
        asset_key=output_key("points_balance"),
        metadata={
            "dagster/row_count": balance_rows,
            "as_of_month": str(month),
            "months": int(balance["as_of_month"].nunique()),
            "mean_balance_this_month": float(this_month["points_balance"].mean())
            if len(this_month)
            else 0.0,
        },
    )


# --------------------------------------------------------------------------- service strategy


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            output_key("segment_strategy_matrix"),
            deps=[output_key("customer_segments"), SURVEYS, STRATEGY_RULES, DISPLAY_TEXT],
            description=(
                "Segment × SERVQUAL dimension: expectation − perception gap (survey answers of the "
                "last 12 months; a segment with under 30 answers borrows its level-1 category's "
                "gap, then the population's), its rank, and the ranked actions for it."
            ),
            kinds={"duckdb"},
            owners=[OWNER],
        ),
        dg.AssetSpec(
            output_key("customer_service_actions"),
            deps=[
                output_key("customer_segments"),
                output_key("customer_labels"),
                SURVEYS,
                STRATEGY_RULES,
                DISPLAY_TEXT,
                *PORTRAIT_DEPS,
            ],
            description=(
                "Top 3 service actions per customer from the strategy_rules seed, with dimension, "
                "priority and the reason in plain words."
            ),
            kinds={"duckdb"},
            owners=[OWNER],
        ),
    ],
    group_name="service",
    **MONTHLY_WRITER,
    name="service_strategy",
)
def service_strategy(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    yield from each_month(context, lambda month: _service_strategy_month(month, warehouse))


def _service_strategy_month(month: dt.date, warehouse: WarehouseResource):
    config = StrategyConfig()
    started = time.perf_counter()
    with warehouse.connect(read_only=True) as con:
        rules = read_seed(con, "strategy_rules")
        registry = read_seed(con, "label_registry")
        display = display_text(con)
        frame = portrait_frame(con, month, rule_inputs(strategy_rules=rules))
        segments_now = month_rows(con, "outputs.customer_segments", month)
        labels = month_rows(con, "outputs.customer_labels", month)
        window_start = pd.Timestamp(month) - pd.DateOffset(months=config.survey_window_months - 1)
        surveys = con.execute(
            f"select {', '.join(SURVEY_COLUMNS)} from staging.stg_raw__satisfaction_surveys "
            "where surveyed_on >= ? and surveyed_on < ?",
            [window_start.date(), (pd.Timestamp(month) + pd.offsets.MonthBegin(1)).date()],
        ).df()
    if segments_now.empty:
        raise dg.Failure(description=f"outputs.customer_segments has no rows for {month}")
    result = build_service_strategy(
        frame,
        segments_now,
        surveys,
        labels,
        rules=rules,
        label_registry=registry,
        config=config,
        display=display,
    )
    matrix, actions = result.segment_strategy_matrix, result.customer_service_actions
    with warehouse.connect() as con:
        matrix_rows = write_month(con, "segment_strategy_matrix", matrix, month)
        action_rows = write_month(con, "customer_service_actions", actions, month)
    sources = matrix["gap_source"].value_counts().to_dict()
    yield dg.MaterializeResult(
        asset_key=output_key("segment_strategy_matrix"),
        metadata={
            "dagster/row_count": matrix_rows,
            "as_of_month": str(month),
            "survey_answers_in_window": len(surveys),
            "gap_sources": dg.MetadataValue.json({k: int(v) for k, v in sources.items()}),
            "cells_with_gap": int((matrix["gap"] > 0).sum()),
            "top_dimension_per_segment": dg.MetadataValue.json(
                matrix[matrix["rank"] == 1].set_index("segment_id")["dimension"].to_dict()
            ),
        },
    )
    yield dg.MaterializeResult(
        asset_key=output_key("customer_service_actions"),
        metadata={
            "dagster/row_count": action_rows,
            "as_of_month": str(month),
            "customers_with_actions": int(actions["customer_id"].nunique()),
            "customers": len(frame),
            "actions_by_code": dg.MetadataValue.json(
                {k: int(v) for k, v in actions["action_code"].value_counts().items()}
            ),
            "seconds": round(time.perf_counter() - started, 2),
            "preview": preview(actions[["customer_id", "action_rank", "action_code", "reason"]]),
        },
    )


output_assets = [segments, customer_labels, points, service_strategy]
output_checks = [segments_cover_customers_within_limits]
