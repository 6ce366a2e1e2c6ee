"""The points stage: loyalty points per customer and month from the points_rules seed, and the
running balances recomputed from every month's ledger.
"""

import datetime as dt
import time

import dagster as dg

from ml.points import points_balance, points_ledger, validate_points_rules
from orchestration.assets.monthly import MONTHLY_WRITER, each_month, output_key, read_seed
from orchestration.assets.rule_inputs import PORTRAIT_DEPS, portrait_frame, rule_inputs
from orchestration.owners import CUSTOMER_INSIGHT
from orchestration.resources import WarehouseResource
from powerseg.warehouse import replace_table, with_dates, write_month

POINTS_RULES = dg.AssetKey(["staging", "points_rules"])


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
            owners=[CUSTOMER_INSIGHT],
        ),
        dg.AssetSpec(
            output_key("points_balance"),
            deps=[output_key("points_ledger")],
            description=(
                "Points earned and running balance per customer and month, recomputed from every "
                "month's ledger (so re-running a month keeps later balances right)."
            ),
            kinds={"duckdb"},
            owners=[CUSTOMER_INSIGHT],
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
