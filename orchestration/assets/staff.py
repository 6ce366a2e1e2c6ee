"""What service staff open: the wide customer portrait, the monthly service KPIs with their
alarms, the exports (CSV with a BOM for Excel, Parquet) and the segment report, in the locale
of POWERSEG_LOCALE (Chinese by default).
"""

import datetime as dt
import time
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from ml.baselines import RULE_VERSION
from ml.display import DisplayText
from ml.registry import FACTORS
from ml.report import write_segment_report
from orchestration.assets.factors import SKIPPED_VERSION, empty_sources, scores_table
from orchestration.assets.outputs import (
    CUSTOMER_360,
    DISPLAY_TEXT,
    LABEL_REGISTRY,
    MONTHLY_WRITER,
    OUTPUT_TABLES,
    OWNER,
    SCORES,
    display_text,
    each_month,
    month_rows,
    output_dirs,
    output_key,
    read_seed,
    table_columns,
    table_exists,
    with_dates,
)
from orchestration.resources import WarehouseResource
from powerseg.warehouse import replace_month

BILLS = dg.AssetKey(["staging", "stg_raw__bills"])
STAFF_TABLES = ("customer_portrait", "service_kpis")
EXPORTED_TABLES = (*OUTPUT_TABLES, *STAFF_TABLES)
ACTIONS_IN_PORTRAIT = 3
# labels the portrait already shows as a column of their own (the customer master's type and
# industry, the arrears grade, the digital tier, the contribution level)
LABELS_SHOWN_AS_COLUMNS = ("customer_type", "industry", "arrears_grade", "digital_tier",
                           "contribution_level")  # fmt: skip
LARGE_CATEGORIES = ("important", "key", "large_industrial", "large_commercial")
# Excel on a Chinese Windows desktop reads a CSV as GBK unless it starts with a UTF-8 BOM
BOM = "\ufeff".encode()


# --------------------------------------------------------------------------- customer portrait

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


def replace_month_growing(con, table: str, frame: pd.DataFrame, month: dt.date) -> int:
    """`replace_month`, adding the columns a new registry row brought (older months read NULL)
    and turning into text a text column an earlier month stored as a number."""
    if table_exists(con, table):
        schema, name = table.split(".")
        existing = dict(
            con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = ? and table_name = ?",
                [schema, name],
            ).fetchall()
        )
        for column in frame.columns:
            if column not in existing:
                con.execute(f'alter table {table} add column "{column}" varchar')
            elif frame[column].dtype == "string" and existing[column] != "VARCHAR":
                con.execute(f'alter table {table} alter "{column}" type varchar')
    return replace_month(con, table, frame, month)


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
    owners=[OWNER],
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


# --------------------------------------------------------------------------- exports


def _copy_csv_with_bom(con, query: str, target: Path, header: list[str] | None) -> None:
    """COPY the query to CSV, then write BOM + (header) + rows in one pass to `target`."""
    raw = target.with_name(f".{target.name}.raw")
    con.execute(f"COPY ({query}) TO '{raw}' (FORMAT csv, HEADER)")
    partial = target.with_name(f".{target.name}.partial")
    try:
        with raw.open("rb") as source, partial.open("wb") as out:
            out.write(BOM)
            if header is not None:
                source.readline()  # DuckDB's own header (the column codes)
                out.write((",".join(_csv_field(h) for h in header) + "\n").encode())
            while chunk := source.read(1 << 20):
                out.write(chunk)
        partial.replace(target)  # readers never see a half-written file
    finally:
        raw.unlink(missing_ok=True)
        partial.unlink(missing_ok=True)


def _csv_field(text: str) -> str:
    if any(ch in text for ch in ',"\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def export_month(
    con: duckdb.DuckDBPyConnection,
    month: dt.date,
    folder: Path,
    headers: dict[str, list[str]] | None = None,
) -> dict[str, dict[str, object]]:
    """Every output table's rows of `month` as `<table>.parquet` and `<table>.csv` (UTF-8 with a
    BOM) in `folder`; `headers` gives a table's CSV header in the staff's language."""
    folder.mkdir(parents=True, exist_ok=True)
    literal = f"DATE '{month.isoformat()}'"  # a date object, never user text
    written: dict[str, dict[str, object]] = {}
    for table in EXPORTED_TABLES:
        if not table_exists(con, f"outputs.{table}"):
            continue
        query = f"select * from outputs.{table} where as_of_month = {literal}"
        rows = con.execute(f"select count(*) from ({query})").fetchone()[0]
        target = folder / f"{table}.parquet"
        partial = target.with_name(f".{target.name}.partial")
        con.execute(f"COPY ({query}) TO '{partial}' (FORMAT parquet)")
        partial.replace(target)
        _copy_csv_with_bom(con, query, folder / f"{table}.csv", (headers or {}).get(table))
        written[table] = {"rows": int(rows), "files": [f"{table}.parquet", f"{table}.csv"]}
    return written


@dg.asset(
    key=["reports", "exports"],
    deps=[output_key(t) for t in EXPORTED_TABLES],
    group_name="reports",
    kinds={"parquet", "csv"},
    owners=[OWNER],
    **MONTHLY_WRITER,
    description=(
        "Every output table's rows of the as-of month as Parquet and CSV (UTF-8 with a BOM, so "
        "Excel opens Chinese text) under <data>/exports/<YYYY-MM>/; customer_portrait.csv has "
        "its header in the POWERSEG_LOCALE language. A re-run overwrites them."
    ),
)
def exports(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    yield from each_month(context, lambda month: _exports_month(month, warehouse))


def _exports_month(month: dt.date, warehouse: WarehouseResource):
    started = time.perf_counter()
    exports_dir, _ = output_dirs(warehouse)
    with warehouse.connect(read_only=True) as con:
        text = display_text(con)
        registry = read_seed(con, "label_registry")
        folder = exports_dir / month.strftime("%Y-%m")
        columns = table_columns(con, "outputs.customer_portrait")
        headers = {"customer_portrait": portrait_headers(columns, registry, text)}
        written = export_month(con, month, folder, headers)
    yield dg.MaterializeResult(
        metadata={
            "as_of_month": str(month),
            "folder": dg.MetadataValue.path(str(folder)),
            "portrait": dg.MetadataValue.path(str(folder / "customer_portrait.csv")),
            "rows_by_table": dg.MetadataValue.json({t: w["rows"] for t, w in written.items()}),
            "files": len(written) * 2,
            "locale": text.locale,
            "seconds": round(time.perf_counter() - started, 2),
        }
    )


# --------------------------------------------------------------------------- report

CUSTOMER_FIGURES_SQL = """
select
    s.customer_id, s.segment_id, s.segment_name, s.level1_category, c.district, c.industry_code,
    coalesce(b.kwh, 0) as kwh_month, coalesce(b.amount, 0) as revenue_month_cny,
    coalesce(c.unpaid_amount_at_as_of_cny, 0) as arrears_cny,
    coalesce(w.complaints, 0) as complaints_month
from outputs.customer_segments s
left join marts.customer_360 c on c.customer_id = s.customer_id and c.as_of_month = $month
left join (
    select customer_id, sum(billed_kwh) as kwh, sum(amount_cny) as amount
    from staging.stg_raw__bills where bill_month = $month group by 1
) b on b.customer_id = s.customer_id
left join (
    select customer_id, count(*) as complaints from staging.stg_raw__work_orders
    where ticket_type = 'complaint' and created_at >= $month and created_at < $next group by 1
) w on w.customer_id = s.customer_id
where s.as_of_month = $month
"""
SEGMENT_FIGURES_SQL = f"""
select segment_id, count(*) as customers, sum(kwh_month) as kwh_month,
    sum(revenue_month_cny) as revenue_month_cny, sum(arrears_cny) as arrears_cny,
    sum(complaints_month) as complaints_month
from ({CUSTOMER_FIGURES_SQL}) group by segment_id
"""
DISTRICT_FIGURES_SQL = f"""
select district, count(*) as customers, sum(kwh_month) as kwh_month,
    sum(revenue_month_cny) as revenue_month_cny, sum(arrears_cny) as arrears_cny,
    sum(complaints_month) as complaints_month,
    mode(segment_name) as largest_segment
from ({CUSTOMER_FIGURES_SQL}) group by district
"""
LARGE_CUSTOMERS_SQL = f"""
with large as (
    select * from ({CUSTOMER_FIGURES_SQL})
    where level1_category in ({", ".join(f"'{c}'" for c in LARGE_CATEGORIES)})
),
bills as (
    select customer_id, bill_month, sum(billed_kwh) as kwh, sum(amount_cny) as amount
    from staging.stg_raw__bills
    where bill_month in ($before, $year_before)
      and customer_id in (select customer_id from large)
    group by 1, 2
)
select large.customer_id, large.level1_category, large.district, large.industry_code,
    large.kwh_month, mb.kwh as kwh_month_before, yb.kwh as kwh_year_before,
    large.revenue_month_cny as amount_month, mb.amount as amount_month_before,
    yb.amount as amount_year_before
from large
left join bills mb on mb.customer_id = large.customer_id and mb.bill_month = $before
left join bills yb on yb.customer_id = large.customer_id and yb.bill_month = $year_before
order by large.customer_id
"""


def _month_params(month: dt.date) -> dict[str, dt.date]:
    return {"month": month, "next": (pd.Timestamp(month) + pd.DateOffset(months=1)).date()}


def previous_segment_figures(con: duckdb.DuckDBPyConnection, month: dt.date):
    """Segment figures of the month segmented before `month` (None on the first month)."""
    previous = con.execute(
        "select max(as_of_month) from outputs.customer_segments where as_of_month < ?", [month]
    ).fetchone()[0]
    if previous is None:
        return None
    return con.execute(SEGMENT_FIGURES_SQL, _month_params(previous)).df()


def report_figures(con: duckdb.DuckDBPyConnection, month: dt.date) -> dict[str, pd.DataFrame]:
    start = pd.Timestamp(month)
    params = _month_params(month)
    large_params = params | {
        "before": (start - pd.DateOffset(months=1)).date(),
        "year_before": (start - pd.DateOffset(months=12)).date(),
    }
    return {
        "segment_figures": con.execute(SEGMENT_FIGURES_SQL, params).df(),
        "district_figures": con.execute(DISTRICT_FIGURES_SQL, params).df(),
        "large_customers": con.execute(LARGE_CUSTOMERS_SQL, large_params).df(),
    }


def factor_status(con: duckdb.DuckDBPyConnection, month: dt.date, text: DisplayText):
    """How each factor was scored this month: by its model, by the rule baseline, or not."""
    rows = []
    for factor in FACTORS:
        table = scores_table(factor)
        versions = (
            [
                r[0]
                for r in con.execute(
                    f"select distinct model_version from {table} where as_of_month = ?", [month]
                ).fetchall()
            ]
            if table_exists(con, table)
            else []
        )
        if not versions or SKIPPED_VERSION in versions:
            empty = empty_sources(con, factor)
            detail = (
                text("factor_skipped_empty", tables=", ".join(f"raw.{t}" for t in empty))
                if empty
                else text("factor_skipped_labels")
            )
            rows.append((factor, "skipped", detail))
        elif RULE_VERSION in versions:
            rows.append((factor, "rule", text("factor_rule_detail")))
        else:
            rows.append((factor, "model", text("factor_model_detail", version=versions[0])))
    return pd.DataFrame(rows, columns=["factor", "status", "detail"])


@dg.asset(
    key=["reports", "segment_report"],
    deps=[
        output_key("segment_profiles"),
        output_key("segment_migration"),
        output_key("customer_labels"),
        output_key("segment_strategy_matrix"),
        output_key("service_kpis"),
        LABEL_REGISTRY,
        DISPLAY_TEXT,
        BILLS,
    ],
    group_name="reports",
    kinds={"html"},
    owners=[OWNER],
    **MONTHLY_WRITER,
    description=(
        "The segment report for service staff, one self-contained HTML file at "
        "<data>/reports/<YYYY-MM>/segments.html in the POWERSEG_LOCALE language: KPI alarms on "
        "top, how each factor was scored, per segment size, kWh, revenue, arrears and complaints "
        "with the change on last month, districts, factor index bars, migration, important and "
        "large customers year on year and month on month, labels, the SERVQUAL strategy matrix."
    ),
)
def segment_report(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    yield from each_month(context, lambda month: _segment_report_month(month, warehouse))


def _segment_report_month(month: dt.date, warehouse: WarehouseResource):
    started = time.perf_counter()
    _, reports_dir = output_dirs(warehouse)
    with warehouse.connect(read_only=True) as con:
        text = display_text(con)
        profiles = month_rows(con, "outputs.segment_profiles", month)
        migration = month_rows(con, "outputs.segment_migration", month)
        labels = month_rows(con, "outputs.customer_labels", month)
        matrix = month_rows(con, "outputs.segment_strategy_matrix", month)
        kpis = month_rows(con, "outputs.service_kpis", month)
        registry = read_seed(con, "label_registry")
        thresholds = read_seed(con, "kpi_thresholds")
        figures = report_figures(con, month)
        previous_figures = previous_segment_figures(con, month)
        status = factor_status(con, month, text)
    if profiles.empty:
        raise dg.Failure(description=f"outputs.segment_profiles has no rows for {month}")
    name_column = "name_zh" if text.chinese else "name_en"
    figures["large_customers"]["industry"] = text.industries(
        figures["large_customers"]["industry_code"]
    )
    path = write_segment_report(
        reports_dir / month.strftime("%Y-%m") / "segments.html",
        profiles,
        migration=migration,
        customer_labels=labels,
        label_registry=registry,
        strategy_matrix=matrix,
        display=text,
        segment_figures=figures["segment_figures"],
        previous_figures=previous_figures,
        district_figures=figures["district_figures"],
        large_customers=figures["large_customers"],
        kpis=kpis,
        kpi_names=dict(zip(thresholds["kpi_code"], thresholds[name_column], strict=True)),
        factor_status=status,
    )
    yield dg.MaterializeResult(
        metadata={
            "as_of_month": str(month),
            "path": dg.MetadataValue.path(str(path)),
            "locale": text.locale,
            "segments": len(profiles),
            "kpi_alarms": int((kpis["alarm"] == "alarm").sum()),
            "untranslated": dg.MetadataValue.json(sorted(f"{k}:{c}" for k, c in text.missing)),
            "bytes": path.stat().st_size,
            "seconds": round(time.perf_counter() - started, 2),
        }
    )


staff_assets = [customer_portrait, exports, segment_report]
