"""What service staff take away: every output table's month as Parquet and as CSV with a BOM
for Excel, and the segment report, in the locale of POWERSEG_LOCALE (Chinese by default).
"""

import datetime as dt
import time
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from ml.baselines import RULE_VERSION
from ml.display import DisplayText
from ml.registry import FACTORS, REGISTRY
from ml.report import write_segment_report
from orchestration.assets.factors import SKIPPED_VERSION, empty_sources, scores_table
from orchestration.assets.monthly import (
    DISPLAY_TEXT,
    LABEL_REGISTRY,
    MONTHLY_WRITER,
    display_text,
    each_month,
    output_dirs,
    output_key,
    read_seed,
)
from orchestration.assets.portrait import portrait_headers
from orchestration.owners import CUSTOMER_INSIGHT
from orchestration.resources import WarehouseResource
from powerseg.warehouse import month_rows, previous_month, table_columns, table_exists

BILLS = dg.AssetKey(["staging", "stg_raw__bills"])
# every table of the outputs schema, each exported per month
EXPORTED_TABLES = (
    "customer_segments",
    "segment_profiles",
    "segment_migration",
    "customer_labels",
    "points_ledger",
    "points_balance",
    "segment_strategy_matrix",
    "customer_service_actions",
    "customer_portrait",
    "service_kpis",
)
LARGE_CATEGORIES = ("important", "key", "large_industrial", "large_commercial")
# Excel on a Chinese Windows desktop reads a CSV as GBK unless it starts with a UTF-8 BOM
BOM = "\ufeff".encode()


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
    owners=[CUSTOMER_INSIGHT],
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
    previous = previous_month(con, "outputs.customer_segments", month)
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
            empty = empty_sources(con, REGISTRY[factor])
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
    owners=[CUSTOMER_INSIGHT],
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
