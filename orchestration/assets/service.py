"""The service stage: the segment × SERVQUAL strategy matrix and each customer's top service
actions, from the strategy_rules seed and the satisfaction surveys.
"""

import datetime as dt
import time

import dagster as dg
import pandas as pd

from ml.strategy import SURVEY_COLUMNS, StrategyConfig, build_service_strategy
from orchestration.assets.monthly import (
    DISPLAY_TEXT,
    MONTHLY_WRITER,
    display_text,
    each_month,
    output_key,
    preview,
    read_seed,
)
from orchestration.assets.rule_inputs import PORTRAIT_DEPS, portrait_frame, rule_inputs
from orchestration.owners import CUSTOMER_INSIGHT
from orchestration.resources import WarehouseResource
from powerseg.warehouse import month_rows, write_month

SURVEYS = dg.AssetKey(["staging", "stg_raw__satisfaction_surveys"])
STRATEGY_RULES = dg.AssetKey(["staging", "strategy_rules"])


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
            owners=[CUSTOMER_INSIGHT],
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
            owners=[CUSTOMER_INSIGHT],
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
