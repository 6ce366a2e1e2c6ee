"""The customer portrait service staff open: one wide row per customer with scores, labels as
columns, points and top actions, in the locale of POWERSEG_LOCALE (Chinese by default).
"""

import datetime as dt
import time

import dagster as dg
import duckdb
import pandas as pd

from ml.display import DisplayText
from orchestration.assets.monthly import (
    CUSTOMER_360,
    DISPLAY_TEXT,
    LABEL_REGISTRY,
    MONTHLY_WRITER,
    SCORES,
    display_text,
    each_month,
    output_key,
    read_seed,
)
from orchestration.owners import CUSTOMER_INSIGHT
from orchestration.resources import WarehouseResource
from powerseg.warehouse import replace_month_growing, with_dates

ACTIONS_IN_PORTRAIT = 3
# labels the portrait already shows as a column of their own (the customer master's type and
# industry, the arrears grade, the digital tier, the contribution level)
LABELS_SHOWN_AS_COLUMNS = ("customer_type", "industry", "arrears_grade", "digital_tier",
                           "contribution_level")  # fmt: skip

PORTRAIT_SQL = """
with segments as (
    select * from outputs.customer_segments where as_of_month = $month
),
labels as (
    select customer_id, label_code, value from outputs.customer_labels where as_of_month = $month
),
actions as (
    select customer_id, action_rank, action, reason
    from outputs.customer_service_actions
    where as_of_month = $month and action_rank <= {actions}
)
select
    segments.as_of_month,
    segments.customer_id,
    c360.district,
    c360.transformer_id,
    c360.feeder_id,
    c360.customer_type,
    c360.industry_code,
    segments.level1_category,
    segments.segment_id,
    segments.segment_name,
    scores.contribution_score,
    scores.contribution_level,
    scores.outage_sensitivity_score,
    scores.outage_sensitivity_tier,
    scores.arrears_score,
    scores.arrears_grade,
    scores.arrears_tier,
    scores.channel_activity_score,
    scores.digital_tier,
    scores.inspection_score,
    scores.inspection_tier,
    {label_columns},
    coalesce(balance.points_balance, 0) as points_balance,
    {action_columns}
from segments
inner join marts.customer_factor_scores as scores
    on scores.customer_id = segments.customer_id and scores.as_of_month = $month
left join marts.customer_360 as c360
    on c360.customer_id = segments.customer_id and c360.as_of_month = $month
left join (
    select customer_id, {label_pivot} from labels group by customer_id
) as wide_labels on wide_labels.customer_id = segments.customer_id
left join outputs.points_balance as balance
    on balance.customer_id = segments.customer_id and balance.as_of_month = $month
left join (
    select customer_id, {action_pivot} from actions group by customer_id
) as wide_actions on wide_actions.customer_id = segments.customer_id
order by segments.customer_id
"""
PORTRAIT_TIERS = ("outage_sensitivity_tier", "arrears_tier", "inspection_tier")


def label_column(code: str) -> str:
    return f"label_{code}"


def portrait_sql(label_codes: list[str]) -> str:
    pivot = ", ".join(
        f"max(value) filter (where label_code = '{code}') as {label_column(code)}"
        for code in label_codes
    )
    actions = [
        f"max({what}) filter (where action_rank = {rank}) as {what}_{rank}"
        for rank in range(1, ACTIONS_IN_PORTRAIT + 1)
        for what in ("action", "reason")
    ]
    return PORTRAIT_SQL.format(
        actions=ACTIONS_IN_PORTRAIT,
        label_columns=", ".join(f"wide_labels.{label_column(c)}" for c in label_codes),
        label_pivot=pivot,
        action_columns=", ".join(
            f"wide_actions.{what}_{rank}"
            for rank in range(1, ACTIONS_IN_PORTRAIT + 1)
            for what in ("action", "reason")
        ),
        action_pivot=", ".join(actions),
    )


def customer_portrait_frame(
    con: duckdb.DuckDBPyConnection, month: dt.date, registry: pd.DataFrame, text: DisplayText
) -> pd.DataFrame:
    """One row per segmented customer: where they are, their category and segment, the five
    scores and tiers, every label of the registry as a column, the points balance and the top
    three actions with reasons. Display values in the locale; no PII (customer_360 has none)."""
    codes = [c for c in registry["code"] if c.isidentifier() and c not in LABELS_SHOWN_AS_COLUMNS]
    frame = con.execute(portrait_sql(codes), {"month": month}).df()
    frame.insert(
        frame.columns.get_loc("level1_category") + 1,
        "level1_category_name",
        text.series("category", frame["level1_category"]),
    )
    frame["segment_name"] = text.segment_names(frame["segment_name"])
    frame["customer_type"] = text.series("value", frame["customer_type"])
    frame["industry_code"] = text.industries(frame["industry_code"])
    for column in PORTRAIT_TIERS:
        frame[column] = text.series("tier", frame[column])
    for column in ("digital_tier",):
        frame[column] = text.series("value", frame[column])
    flag = text.text("value", "true")
    for code in codes:
        column = label_column(code)
        values = frame[column]
        shown = text.industries(values) if code == "industry" else text.series("value", values)
        frame[column] = shown.where(values != "true", flag)
    return as_text_columns(frame)


def as_text_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns typed as text even when a month has no value in them (a label nobody
    carries yet): pandas gives an all-None column no type, and DuckDB would create it as a
    number that next month's '是' cannot be written into."""
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = frame[column].astype("string")
    return frame


def portrait_headers(columns: list[str], registry: pd.DataFrame, text: DisplayText) -> list[str]:
    """The CSV header staff read: each column's display name (label columns: the label's)."""
    names = text.label_names(registry)
    headers = []
    for column in columns:
        if column.startswith("label_") and column.removeprefix("label_") in names:
            headers.append(names[column.removeprefix("label_")])
        else:
            headers.append(text.text("column", column))
    return headers


@dg.asset(
    key=output_key("customer_portrait"),
    deps=[
        output_key("customer_segments"),
        output_key("customer_labels"),
        output_key("points_balance"),
        output_key("customer_service_actions"),
        SCORES,
        CUSTOMER_360,
        LABEL_REGISTRY,
        DISPLAY_TEXT,
    ],
    group_name="service",
    kinds={"duckdb"},
    owners=[CUSTOMER_INSIGHT],
    **MONTHLY_WRITER,
    description=(
        "One row per customer for service staff: district, transformer and feeder, category and "
        "segment, the five scores and tiers, every label of the registry as a column, points "
        "balance and the top three actions with reasons, in the POWERSEG_LOCALE language. No PII."
    ),
)
def customer_portrait(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    yield from each_month(context, lambda month: _portrait_month(month, warehouse))


def _portrait_month(month: dt.date, warehouse: WarehouseResource):
    started = time.perf_counter()
    with warehouse.connect(read_only=True) as con:
        text = display_text(con)
        registry = read_seed(con, "label_registry")
        frame = customer_portrait_frame(con, month, registry, text)
    with warehouse.connect() as con:
        written = replace_month_growing(con, "outputs.customer_portrait", with_dates(frame), month)
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": written,
            "as_of_month": str(month),
            "locale": text.locale,
            "columns": len(frame.columns),
            "districts": int(frame["district"].nunique()),
            "customers_with_actions": int(frame["action_1"].notna().sum()),
            "untranslated": dg.MetadataValue.json(sorted(f"{k}:{c}" for k, c in text.missing)),
            "seconds": round(time.perf_counter() - started, 2),
        }
    )
