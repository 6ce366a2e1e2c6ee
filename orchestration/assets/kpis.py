"""The monthly service KPIs per district, with last month's value and ok / warn / alarm from
the kpi_thresholds seed; alarms are a warning asset check and head the segment report.
"""

import datetime as dt
import time

import dagster as dg
import duckdb
import numpy as np
import pandas as pd

from ml.config import DIGITAL_CHANNELS
from ml.report import ALL_DISTRICTS
from ml.strategy import SERVQUAL_DIMENSIONS
from orchestration.assets.monthly import (
    CUSTOMER_360,
    MONTHLY_WRITER,
    each_month,
    output_key,
    read_seed,
    run_months,
)
from orchestration.assets.sources import WAREHOUSE_POOL
from orchestration.owners import CUSTOMER_INSIGHT
from orchestration.resources import WarehouseResource
from powerseg.warehouse import previous_month, table_exists, write_month

KPI_THRESHOLDS = dg.AssetKey(["staging", "kpi_thresholds"])
STAGED = {
    name: dg.AssetKey(["staging", f"stg_raw__{name}"])
    for name in ("work_orders", "channel_interactions", "inspections", "satisfaction_surveys")
}
KPI_COLUMNS = (
    "as_of_month",
    "district",
    "kpi_code",
    "value",
    "previous_value",
    "threshold",
    "alarm",
    "base",
    "unit",
)


# --------------------------------------------------------------------------- service KPIs

KPI_SQL = """
with base as (
    select customer_id, district, unpaid_bills_at_as_of, unpaid_amount_at_as_of_cny
    from marts.customer_360 where as_of_month = $month
),
scoped as (
    select district, customer_id from base
    union all
    select '{all}' as district, customer_id from base
),
customers as (
    select scoped.district, count(*) as customers,
        count(*) filter (where base.unpaid_bills_at_as_of > 0) as overdue_customers,
        sum(coalesce(base.unpaid_amount_at_as_of_cny, 0)) as overdue_amount
    from scoped
    inner join base on base.customer_id = scoped.customer_id
    group by scoped.district
),
tickets as (
    select scoped.district,
        count(*) filter (where ticket_type = 'complaint') as complaints,
        count(*) filter (where ticket_type = 'complaint' and topic = 'outage') as outage_complaints
    from staging.stg_raw__work_orders as w
    inner join scoped using (customer_id)
    where w.created_at >= $month and w.created_at < $next
    group by scoped.district
),
interactions as (
    select scoped.district, count(*) as interactions,
        count(*) filter (where channel in ({digital})) as digital,
        count(*) filter (where channel = 'counter') as counter
    from staging.stg_raw__channel_interactions as i
    inner join scoped using (customer_id)
    where i.occurred_at >= $month and i.occurred_at < $next
    group by scoped.district
),
inspections as (
    select scoped.district, count(*) as inspections,
        count(*) filter (where result in ('theft', 'violation')) as hits
    from staging.stg_raw__inspections as x
    inner join scoped using (customer_id)
    where x.inspected_on >= $quarter and x.inspected_on < $next
    group by scoped.district
),
surveys as (
    select scoped.district, dimension, count(*) as answers,
        avg(expectation - perception) as gap
    from staging.stg_raw__satisfaction_surveys as s
    inner join scoped using (customer_id)
    where s.surveyed_on >= $month and s.surveyed_on < $next
    group by scoped.district, dimension
),
long as (
    select c.district, 'complaint_rate_per_10k' as kpi_code,
        1e4 * coalesce(t.complaints, 0) / c.customers as value, c.customers as base
    from customers c left join tickets t using (district)
    union all
    select c.district, 'outage_complaint_rate_per_10k',
        1e4 * coalesce(t.outage_complaints, 0) / c.customers, c.customers
    from customers c left join tickets t using (district)
    union all
    select district, 'arrears_rate', overdue_customers / customers, customers from customers
    union all
    select district, 'overdue_amount_cny', overdue_amount, customers from customers
    union all
    select c.district, 'digital_channel_share', i.digital / nullif(i.interactions, 0),
        coalesce(i.interactions, 0)
    from customers c left join interactions i using (district)
    union all
    select c.district, 'counter_share', i.counter / nullif(i.interactions, 0),
        coalesce(i.interactions, 0)
    from customers c left join interactions i using (district)
    union all
    select c.district, 'inspection_hit_rate', x.hits / nullif(x.inspections, 0),
        coalesce(x.inspections, 0)
    from customers c left join inspections x using (district)
    union all
    select c.district, 'servqual_gap_' || d.dimension, s.gap, coalesce(s.answers, 0)
    from customers c
    cross join (select unnest([{dimensions}]) as dimension) as d
    left join surveys s on s.district = c.district and s.dimension = d.dimension
)
select * from long
"""
MIGRATION_SQL = """
with now as (
    select s.customer_id, s.segment_id, c.district
    from outputs.customer_segments s
    left join marts.customer_360 c on c.customer_id = s.customer_id and c.as_of_month = $month
    where s.as_of_month = $month
),
before as (
    select customer_id, segment_id from outputs.customer_segments where as_of_month = $before
),
both_months as (
    select now.district, (now.segment_id <> before.segment_id)::int as moved
    from now inner join before using (customer_id)
)
select district, 'segment_migration_rate' as kpi_code, avg(moved) as value, count(*) as base
from (select district, moved from both_months union all select '{all}', moved from both_months)
group by district
"""


def kpi_values(con: duckdb.DuckDBPyConnection, month: dt.date) -> pd.DataFrame:
    """(district, kpi_code, value, base) of `month`, set-based; district ALL is the company."""
    start = pd.Timestamp(month)
    params = {
        "month": month,
        "next": (start + pd.DateOffset(months=1)).date(),
        "quarter": (start - pd.DateOffset(months=2)).date(),
    }
    sql = KPI_SQL.format(
        all=ALL_DISTRICTS,
        digital=", ".join(f"'{c}'" for c in DIGITAL_CHANNELS),
        dimensions=", ".join(f"'{d}'" for d in SERVQUAL_DIMENSIONS),
    )
    frames = [con.execute(sql, params).df()]
    if table_exists(con, "outputs.customer_segments"):
        # against the month segmented before (none on the first month: no rows)
        before = previous_month(con, "outputs.customer_segments", month)
        migration = MIGRATION_SQL.format(all=ALL_DISTRICTS)
        frames.append(con.execute(migration, {"month": month, "before": before}).df())
    values = pd.concat(frames, ignore_index=True)
    values["district"] = values["district"].fillna("")
    return values


def validate_kpi_thresholds(thresholds: pd.DataFrame) -> pd.DataFrame:
    """The kpi_thresholds seed, typed; a bad row is named, never silently skipped."""
    required = ("kpi_code", "name_zh", "name_en", "unit", "worse_when", "warn", "alarm", "min_base")
    missing = [c for c in required if c not in thresholds.columns]
    if missing:
        raise ValueError(f"kpi_thresholds lacks column(s) {missing}")
    table = thresholds.copy()
    bad = table.loc[~table["worse_when"].isin(["higher", "lower"]), "kpi_code"].tolist()
    if bad:
        raise ValueError(f"kpi_thresholds: worse_when must be 'higher' or 'lower' for {bad}")
    for column in ("warn", "alarm", "min_base"):
        text = table[column].replace("", np.nan)
        numbers = pd.to_numeric(text, errors="coerce")
        wrong = table.loc[text.notna() & numbers.isna(), "kpi_code"].tolist()
        if wrong:
            raise ValueError(f"kpi_thresholds: {column} is not a number for {wrong}")
        table[column] = numbers
    one_sided = table.loc[table["warn"].isna() != table["alarm"].isna(), "kpi_code"].tolist()
    if one_sided:
        raise ValueError(f"kpi_thresholds: set both warn and alarm, or neither, for {one_sided}")
    sign = np.where(table["worse_when"] == "higher", 1, -1)
    inverted = table.loc[(table["alarm"] - table["warn"]) * sign < 0, "kpi_code"].tolist()
    if inverted:
        raise ValueError(f"kpi_thresholds: alarm must be beyond warn for {inverted}")
    return table


def service_kpis_frame(
    now: pd.DataFrame, before: pd.DataFrame, thresholds: pd.DataFrame, month: dt.date
) -> pd.DataFrame:
    """One row per district and KPI: value, last month's value, the threshold passed (alarm,
    else warn), and ok / warn / alarm. Too small a base (fewer customers, interactions,
    inspections or answers than min_base) never alarms: its rate means little."""
    table = validate_kpi_thresholds(thresholds).set_index("kpi_code")
    unknown = sorted(set(now["kpi_code"]) - set(table.index))
    if unknown:
        raise ValueError(f"kpi_thresholds has no row for KPI(s) {unknown}")
    frame = now.merge(
        before[["district", "kpi_code", "value"]].rename(columns={"value": "previous_value"}),
        on=["district", "kpi_code"],
        how="left",
    )
    rules = table.reindex(frame["kpi_code"])
    value = frame["value"].to_numpy(dtype=float)
    worse = np.where(rules["worse_when"].to_numpy() == "higher", 1.0, -1.0)
    enough = frame["base"].to_numpy(dtype=float) >= rules["min_base"].fillna(0).to_numpy()
    with np.errstate(invalid="ignore"):
        at_alarm = enough & (worse * (value - rules["alarm"].to_numpy()) >= 0)
        at_warn = enough & (worse * (value - rules["warn"].to_numpy()) >= 0)
    frame["alarm"] = np.select([at_alarm, at_warn], ["alarm", "warn"], default="ok")
    frame["threshold"] = np.where(
        at_alarm, rules["alarm"].to_numpy(), rules["warn"].to_numpy()
    ).astype(float)
    frame["unit"] = rules["unit"].to_numpy()
    frame["as_of_month"] = pd.Timestamp(month)
    order = {code: i for i, code in enumerate(table.index)}
    frame = frame.assign(_order=frame["kpi_code"].map(order)).sort_values(
        ["district", "_order"], ignore_index=True
    )
    return frame.loc[:, list(KPI_COLUMNS)]


@dg.asset(
    key=output_key("service_kpis"),
    deps=[
        CUSTOMER_360,
        output_key("customer_segments"),
        KPI_THRESHOLDS,
        *(STAGED[n] for n in ("work_orders", "channel_interactions", "inspections")),
        STAGED["satisfaction_surveys"],
    ],
    group_name="service",
    kinds={"duckdb"},
    owners=[CUSTOMER_INSIGHT],
    **MONTHLY_WRITER,
    description=(
        "Monthly service indicators per district (and ALL = the company): complaint and "
        "outage-complaint rate per 10 000 customers, arrears rate and overdue amount, digital "
        "and counter channel share, inspection hit rate, mean SERVQUAL gap per dimension, segment "
        "migration rate; with last month's value and ok / warn / alarm from the kpi_thresholds "
        "seed."
    ),
)
def service_kpis(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    yield from each_month(context, lambda month: _service_kpis_month(month, warehouse))


def _service_kpis_month(month: dt.date, warehouse: WarehouseResource):
    started = time.perf_counter()
    previous = (pd.Timestamp(month) - pd.DateOffset(months=1)).date()
    with warehouse.connect(read_only=True) as con:
        thresholds = read_seed(con, "kpi_thresholds")
        now = kpi_values(con, month)
        before = kpi_values(con, previous)
    frame = service_kpis_frame(now, before, thresholds, month)
    with warehouse.connect() as con:
        written = write_month(con, "service_kpis", frame, month)
    flagged = frame[frame["alarm"] != "ok"]
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": written,
            "as_of_month": str(month),
            "districts": int(frame["district"].nunique()) - 1,
            "alarms": int((frame["alarm"] == "alarm").sum()),
            "warnings": int((frame["alarm"] == "warn").sum()),
            "flagged": dg.MetadataValue.md(
                flagged[["district", "kpi_code", "value", "threshold", "alarm"]]
                .round(4)
                .to_markdown(index=False)
                if len(flagged)
                else "none"
            ),
            "seconds": round(time.perf_counter() - started, 2),
        }
    )


@dg.asset_check(
    asset=output_key("service_kpis"),
    blocking=False,
    pool=WAREHOUSE_POOL,  # reads DuckDB: waits while a step writes it
    description=(
        "Warns when a service KPI of the month reaches its alarm threshold in any district "
        "(thresholds in the kpi_thresholds seed); the alarms also head the segment report."
    ),
)
def service_kpis_within_alarm_thresholds(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    with warehouse.connect(read_only=True) as con:
        months = run_months(context, con)
        frame = con.execute(
            "select * from outputs.service_kpis where as_of_month in "
            f"({', '.join('?' for _ in months)}) and alarm = 'alarm' "
            "order by as_of_month, district, kpi_code",
            list(months),
        ).df()
    return dg.AssetCheckResult(
        passed=frame.empty,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "as_of_months": ", ".join(str(m) for m in months),
            "alarms": len(frame),
            "alarmed": dg.MetadataValue.md(
                frame[["as_of_month", "district", "kpi_code", "value", "threshold"]]
                .assign(as_of_month=frame["as_of_month"].astype(str))
                .round(4)
                .to_markdown(index=False)
                if len(frame)
                else "none"
            ),
        },
    )


kpi_assets = [service_kpis]
kpi_checks = [service_kpis_within_alarm_thresholds]
