"""The segment report service staff act on: one self-contained HTML file (inline CSS and SVG, no
network), readable printed, in the locale of its `DisplayText` (Chinese for staff by default).

From the top: KPI alarms, factors not scored, each segment's size and absolute monthly figures
with the change on last month, the district breakdown, factor index bars, migration, important
and large customers year on year and month on month, label frequencies, the SERVQUAL strategy
matrix and the KPI table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ml.display import DisplayText
from ml.labels import label_frequencies
from ml.report_html import (
    CSS,
    change,
    escape,
    gap_colour,
    html_table,
    index_bars_svg,
    kpi_value,
    number,
    share_bar,
)
from ml.strategy import SERVQUAL_DIMENSIONS

MAX_VALUES_PER_LABEL = 10  # valued labels such as industry can have many values
LARGE_CUSTOMER_ROWS = 20  # largest movers shown for important, key and large customers
ALL_DISTRICTS = "ALL"  # the company-wide rows of outputs.service_kpis
FIGURE_COLUMNS = ("customers", "kwh_month", "revenue_month_cny", "arrears_cny", "complaints_month")


def render_segment_report(
    segment_profiles: pd.DataFrame,
    *,
    migration: pd.DataFrame | None = None,
    customer_labels: pd.DataFrame | None = None,
    label_registry: pd.DataFrame | None = None,
    strategy_matrix: pd.DataFrame | None = None,
    summary: dict[str, Any] | None = None,
    display: DisplayText | None = None,
    segment_figures: pd.DataFrame | None = None,
    previous_figures: pd.DataFrame | None = None,
    district_figures: pd.DataFrame | None = None,
    large_customers: pd.DataFrame | None = None,
    kpis: pd.DataFrame | None = None,
    kpi_names: dict[str, str] | None = None,
    factor_status: pd.DataFrame | None = None,
    title: str | None = None,
) -> str:
    """The whole report as one HTML string with no external references (works offline).

    `segment_figures` / `previous_figures`: per segment_id this and last month's customers,
    kwh_month, revenue_month_cny, arrears_cny, complaints_month; `district_figures` the same per
    district; `large_customers` one row per important / key / large customer with kwh and
    amount this month, last month and a year before; `kpis` the month's outputs.service_kpis;
    `factor_status` per factor how it was scored (`factor`, `status`, `detail`).
    Sections whose input is None are left out; an empty input says so in a plain sentence.
    """
    t = display or DisplayText.load("en")
    profiles = segment_profiles.sort_values(["level1_category", "segment_id"])
    month = _month_text(profiles)
    title = title or t("title")
    sections = [
        f"<h1>{escape(title)}</h1>",
        "<p class='note'>"
        + escape(
            t(
                "subtitle",
                month=month,
                customers=f"{int(profiles['size'].sum()):,}",
                segments=len(profiles),
                categories=profiles["level1_category"].nunique(),
            )
        )
        + "</p>",
    ]
    if kpis is not None:
        sections.append(_alarms_section(kpis, kpi_names or {}, t))
    if factor_status is not None:
        sections.append(_factor_status_section(factor_status, t))
    sections.append(_sizes_section(profiles, summary, segment_figures, previous_figures, t))
    if district_figures is not None:
        sections.append(_district_section(district_figures, kpis, t))
    sections.append(_index_section(profiles, t))
    if migration is not None:
        sections.append(_migration_section(migration, profiles, t))
    if large_customers is not None:
        sections.append(_large_customers_section(large_customers, t))
    if customer_labels is not None:
        sections.append(_labels_section(customer_labels, label_registry, profiles, t))
    if strategy_matrix is not None:
        sections.append(_strategy_section(strategy_matrix, t))
    if kpis is not None:
        sections.append(_kpi_section(kpis, kpi_names or {}, t))
    body = "\n".join(sections)
    lang = "zh-CN" if t.chinese else "en"
    return (
        f"<!DOCTYPE html>\n<html lang='{lang}'>\n<head>\n<meta charset='utf-8'>\n"
        f"<title>{escape(title)} {escape(month)}</title>\n<style>{CSS}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def write_segment_report(path: str | Path, segment_profiles: pd.DataFrame, **kwargs) -> Path:
    """Render the report and write it to `path` (UTF-8); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_segment_report(segment_profiles, **kwargs), encoding="utf-8")
    return path


def _month_text(profiles: pd.DataFrame) -> str:
    if "as_of_month" not in profiles.columns or profiles.empty:
        return "unknown"
    return str(pd.Timestamp(profiles["as_of_month"].iloc[0]).strftime("%Y-%m"))


def _index_columns(profiles: pd.DataFrame) -> list[str]:
    return [c for c in profiles.columns if c.endswith("_index")]


# --------------------------------------------------------------------------- KPI alarms


def _kpi_name(code: str, names: dict[str, str]) -> str:
    return names.get(code, code)


def _alarms_section(kpis: pd.DataFrame, names: dict[str, str], t: DisplayText) -> str:
    flagged = kpis[kpis["alarm"].isin(["alarm", "warn"])].copy()
    parts = [f"<div class='alarms'><h2>{escape(t('alarms_heading'))}</h2>"]
    if flagged.empty:
        parts.append(f"<p>{escape(t('alarms_none'))}</p></div>")
        return "\n".join(parts)
    flagged = flagged.sort_values(["kpi_code", "district"])

    def rows(level: str) -> list[str]:
        return [
            f"<tr class='{escape(r.alarm)}'><td>{escape(t.text('alarm', r.alarm))}</td>"
            f"<td>{escape(_district(r.district, t))}</td>"
            f"<td>{escape(_kpi_name(r.kpi_code, names))}</td>"
            f"<td class='num'>{kpi_value(r.value, r.unit)}</td>"
            f"<td class='num'>{kpi_value(r.threshold, r.unit)}</td>"
            f"<td class='num'>{kpi_value(r.previous_value, r.unit)}</td></tr>"
            for r in flagged[flagged["alarm"] == level].itertuples(index=False)
        ]

    header = [t("col_status"), t("col_district"), t("col_kpi"), t("col_value"),
              t("col_threshold"), t("col_previous")]  # fmt: skip
    alarms, warnings = rows("alarm"), rows("warn")
    parts.append(f"<p>{escape(t('alarms_count', alarms=len(alarms), warnings=len(warnings)))}</p>")
    if alarms:
        parts.append(html_table(header, alarms, "alarm-table"))
    if warnings:
        parts.append(f"<h3>{escape(t('warnings_summary', warnings=len(warnings)))}</h3>")
        parts.append(html_table(header, warnings))
    parts.append("</div>")
    return "\n".join(parts)


def _district(code, t: DisplayText) -> str:
    return t("all_districts") if code == ALL_DISTRICTS else str(code)


def _kpi_section(kpis: pd.DataFrame, names: dict[str, str], t: DisplayText) -> str:
    company = kpis[kpis["district"] == ALL_DISTRICTS].sort_values("kpi_code")
    rows = [
        f"<tr class='{escape(r.alarm)}'><td>{escape(_kpi_name(r.kpi_code, names))}</td>"
        f"<td class='num'>{kpi_value(r.value, r.unit)}</td>"
        f"<td class='num'>{kpi_value(r.previous_value, r.unit)}</td>"
        f"<td class='num'>{kpi_value(r.threshold, r.unit)}</td>"
        f"<td>{escape(t.text('alarm', r.alarm))}</td></tr>"
        for r in company.itertuples(index=False)
    ]
    header = [t("col_kpi"), t("col_value"), t("col_previous"), t("col_threshold"), t("col_status")]
    return (
        f"<h2>{escape(t('kpi_heading'))}</h2><p class='note'>{escape(t('kpi_note'))}</p>"
        + html_table(header, rows)
    )


# --------------------------------------------------------------------------- factors


def _factor_status_section(status: pd.DataFrame, t: DisplayText) -> str:
    rows = [
        f"<tr><td>{escape(t.text('factor', r.factor))}</td>"
        f"<td>{escape(t('factor_' + r.status))}</td>"
        f"<td>{escape(r.detail)}</td></tr>"
        for r in status.itertuples(index=False)
    ]
    unscored = status[status["status"] != "model"]
    note = t("factors_all_scored") if unscored.empty else t("factors_some_not_scored")
    return (
        f"<h2>{escape(t('factors_heading'))}</h2><p class='note'>{escape(note)}</p>"
        + html_table([t("col_factor"), t("col_status"), t("col_detail")], rows)
    )


# --------------------------------------------------------------------------- segments


def _sizes_section(
    profiles: pd.DataFrame,
    summary: dict[str, Any] | None,
    figures: pd.DataFrame | None,
    previous: pd.DataFrame | None,
    t: DisplayText,
) -> str:
    parts = [f"<h2>{escape(t('segments_heading'))}</h2>"]
    if figures is not None:
        parts.append(f"<p class='note'>{escape(t('segments_note'))}</p>")
        if previous is None or previous.empty:
            parts.append(f"<p class='note'>{escape(t('no_previous_month'))}</p>")
    categories = (summary or {}).get("categories", {})
    by_segment = figures.set_index("segment_id") if figures is not None else None
    before = previous.set_index("segment_id") if previous is not None and len(previous) else None
    for category, rows in profiles.groupby("level1_category", sort=False):
        info = categories.get(category) or _category_info(rows)
        method = rows["segmentation_method"].iloc[0] if "segmentation_method" in rows else ""
        detail = t(
            "category_detail",
            customers=f"{int(rows['size'].sum()):,}",
            method=t.text("value", method),
        )
        if info.get("silhouette") is not None and np.isfinite(info.get("silhouette", np.nan)):
            detail += " · " + t("silhouette", k=info["k"], silhouette=f"{info['silhouette']:.2f}")
        parts.append(
            f"<h3>{escape(t.text('category', category))}</h3><p class='note'>{escape(detail)}</p>"
        )
        header = [t("col_segment"), t("col_name"), t("col_customers"), t("col_share_category")]
        if by_segment is not None:
            header += [t("col_kwh"), t("col_revenue"), t("col_arrears"), t("col_complaints")]
            if before is not None:
                header += [t("col_customers_mom"), t("col_kwh_mom")]
        lines = []
        for r in rows.itertuples(index=False):
            cells = (
                f"<td>{escape(r.segment_id)}</td><td>{escape(t.segment_name(r.segment_name))}</td>"
                f"<td class='num'>{int(r.size):,}</td><td>{share_bar(r.share)}</td>"
            )
            if by_segment is not None:
                f = by_segment.loc[r.segment_id] if r.segment_id in by_segment.index else None
                get = lambda c, f=f: None if f is None else f[c]  # noqa: E731
                cells += "".join(
                    f"<td class='num'>{number(get(c))}</td>" for c in FIGURE_COLUMNS[1:]
                )
                if before is not None:
                    b = before.loc[r.segment_id] if r.segment_id in before.index else None
                    cells += (
                        f"<td class='num'>{change(r.size, None if b is None else b['customers'])}"
                        f"</td><td class='num'>"
                        f"{change(get('kwh_month'), None if b is None else b['kwh_month'])}</td>"
                    )
            lines.append(f"<tr>{cells}</tr>")
        parts.append(html_table(header, lines))
    return "\n".join(parts)


def _category_info(rows: pd.DataFrame) -> dict[str, Any]:
    """k and silhouette from the stored profiles when no segmentation summary is at hand."""
    silhouette = rows["category_silhouette"].iloc[0] if "category_silhouette" in rows else None
    return {"k": len(rows), "silhouette": None if pd.isna(silhouette) else float(silhouette)}


def _district_section(figures: pd.DataFrame, kpis: pd.DataFrame | None, t: DisplayText) -> str:
    alarms = {}
    if kpis is not None:
        flagged = kpis[kpis["alarm"] == "alarm"]
        alarms = flagged.groupby("district").size().to_dict()
    total = max(float(figures["customers"].sum()), 1.0)
    rows = []
    # largest first; districts of the same size by name, so the table is the same every run
    ordered = figures.sort_values(["customers", "district"], ascending=[False, True])
    for r in ordered.itertuples(index=False):
        count = alarms.get(r.district, 0)
        css = "alarm" if count else ""
        rows.append(
            f"<tr><td>{escape(r.district)}</td><td class='num'>{int(r.customers):,}</td>"
            f"<td class='num'>{r.customers / total:.1%}</td>"
            f"<td class='num'>{number(r.kwh_month)}</td>"
            f"<td class='num'>{number(r.revenue_month_cny)}</td>"
            f"<td class='num'>{number(r.arrears_cny)}</td>"
            f"<td class='num'>{number(r.complaints_month)}</td>"
            f"<td>{escape(t.segment_name(r.largest_segment))}</td>"
            f"<td class='num {css}'>{count}</td></tr>"
        )
    header = [t("col_district"), t("col_customers"), t("col_share"), t("col_kwh"),
              t("col_revenue"), t("col_arrears"), t("col_complaints"), t("col_largest_segment"),
              t("col_alarms")]  # fmt: skip
    return (
        f"<h2 id='districts'>{escape(t('districts_heading'))}</h2>"
        f"<p class='note'>{escape(t('districts_note'))}</p>" + html_table(header, rows, "districts")
    )


def _index_section(profiles: pd.DataFrame, t: DisplayText) -> str:
    columns = _index_columns(profiles)
    labels = [t.text("factor", c.removesuffix("_index").removesuffix("_score")) for c in columns]
    cards = []
    for r in profiles.itertuples(index=False):
        row = r._asdict()
        values = [row[c] for c in columns]
        table = "".join(
            f"{escape(label)} {value:+.2f}<br>" for label, value in zip(labels, values, strict=True)
        )
        cards.append(
            f"<div class='card'><div class='id'>{escape(r.segment_id)} · {r.share:.0%}</div>"
            f"<div class='name'>{escape(t.segment_name(r.segment_name))}</div>"
            f"{index_bars_svg(values, labels)}<div class='note'>{table}</div></div>"
        )
    return (
        f"<h2>{escape(t('index_heading'))}</h2><p class='note'>{escape(t('index_note'))}</p>"
        f"<div class='cards'>{''.join(cards)}</div>"
    )


def _migration_section(migration: pd.DataFrame, profiles: pd.DataFrame, t: DisplayText) -> str:
    parts = [f"<h2>{escape(t('migration_heading'))}</h2>"]
    if migration.empty:
        parts.append(f"<p class='note'>{escape(t('migration_none'))}</p>")
        return "\n".join(parts)
    table = migration.pivot_table(
        index="from_segment_id",
        columns="to_segment_id",
        values="customers",
        aggfunc="sum",
        fill_value=0,
    )
    total = int(table.to_numpy().sum())
    same = sum(int(table.at[s, s]) for s in table.index if s in table.columns)
    parts.append(
        f"<p class='note'>{escape(t('migration_note', customers=f'{total:,}', stayed=f'{same / total:.1%}'))}</p>"  # noqa: E501
    )
    row_totals = table.sum(axis=1).replace(0, 1)
    header = "".join(f"<th>{escape(c)}</th>" for c in table.columns)
    lines = []
    for source, counts in table.iterrows():
        cells = []
        for target, count in counts.items():
            alpha = count / row_totals[source]
            cells.append(
                f"<td class='num' style='background: rgba(46,134,193,{alpha:.2f})' "
                f"title='{escape(source)} → {escape(target)}'>{int(count):,}</td>"
            )
        lines.append(f"<tr><th>{escape(source)}</th>{''.join(cells)}</tr>")
    parts.append(
        f"<div class='scroll'><table><tr><th>{escape(t('migration_corner'))}</th>{header}</tr>"
        f"{''.join(lines)}</table></div>"
    )
    return "\n".join(parts)


def _large_customers_section(large: pd.DataFrame, t: DisplayText) -> str:
    parts = [f"<h2>{escape(t('large_heading'))}</h2>"]
    if large.empty:
        parts.append(f"<p class='note'>{escape(t('large_none'))}</p>")
        return "\n".join(parts)
    movers = large.assign(
        movement=(large["kwh_month"] - large["kwh_year_before"].fillna(large["kwh_month"])).abs()
    ).nlargest(LARGE_CUSTOMER_ROWS, "movement")
    totals = large[["kwh_month", "kwh_month_before", "kwh_year_before", "amount_month",
                    "amount_month_before", "amount_year_before"]].sum(min_count=1)  # fmt: skip
    parts.append(
        "<p class='note'>"
        f"{escape(t('large_note', customers=f'{len(large):,}', rows=len(movers)))}</p>"
    )
    summary_rows = [
        f"<tr><td>{escape(t(what))}</td><td class='num'>{number(totals[now])}</td>"
        f"<td class='num'>{change(totals[now], totals[mom])}</td>"
        f"<td class='num'>{change(totals[now], totals[yoy])}</td></tr>"
        for what, now, mom, yoy in (
            ("col_kwh", "kwh_month", "kwh_month_before", "kwh_year_before"),
            ("col_amount", "amount_month", "amount_month_before", "amount_year_before"),
        )
    ]
    parts.append(
        html_table([t("col_total"), t("col_this_month"), t("col_mom"), t("col_yoy")], summary_rows)
    )
    rows = [
        f"<tr><td>{escape(r.customer_id)}</td>"
        f"<td>{escape(t.text('category', r.level1_category))}</td>"
        f"<td>{escape(r.district)}</td><td>{escape(r.industry)}</td>"
        f"<td class='num'>{number(r.kwh_month)}</td>"
        f"<td class='num'>{change(r.kwh_month, r.kwh_month_before)}</td>"
        f"<td class='num'>{change(r.kwh_month, r.kwh_year_before)}</td>"
        f"<td class='num'>{number(r.amount_month)}</td>"
        f"<td class='num'>{change(r.amount_month, r.amount_month_before)}</td>"
        f"<td class='num'>{change(r.amount_month, r.amount_year_before)}</td></tr>"
        for r in movers.itertuples(index=False)
    ]
    header = [t("col_customer"), t("col_category"), t("col_district"), t("col_industry"),
              t("col_kwh"), t("col_kwh_mom"), t("col_kwh_yoy"), t("col_amount"),
              t("col_amount_mom"), t("col_amount_yoy")]  # fmt: skip
    parts.append(html_table(header, rows))
    return "\n".join(parts)


def _labels_section(
    customer_labels: pd.DataFrame,
    registry: pd.DataFrame | None,
    profiles: pd.DataFrame,
    t: DisplayText,
) -> str:
    counts = label_frequencies(customer_labels, registry, n_customers=int(profiles["size"].sum()))
    counts = counts[counts.groupby("label_code").cumcount() < MAX_VALUES_PER_LABEL]
    names = t.label_names(registry) if registry is not None else {}
    parts = [
        f"<h2>{escape(t('labels_heading'))}</h2>"
        f"<p class='note'>{escape(t('labels_note', values=MAX_VALUES_PER_LABEL))}</p>"
    ]
    header = [t("col_label"), t("col_code"), t("col_label_value"), t("col_customers"),
              t("col_share")]  # fmt: skip
    for dimension, rows in counts.groupby("dimension", sort=False):
        lines = []
        for r in rows.itertuples(index=False):
            if r.value == "true":
                value = ""
            elif r.label_code == "industry":
                value = t.industry(r.value)
            else:
                value = t.text("value", r.value)
            lines.append(
                f"<tr><td>{escape(names.get(r.label_code, r.name))}</td>"
                f"<td>{escape(r.label_code)}</td>"
                f"<td>{escape(value)}</td><td class='num'>{int(r.customers):,}</td>"
                f"<td>{share_bar(r.share)}</td></tr>"
            )
        heading = f"<h3>{escape(t.text('label_dimension', dimension))}</h3>"
        parts.append(heading + html_table(header, lines))
    return "\n".join(parts)


def _strategy_section(matrix: pd.DataFrame, t: DisplayText) -> str:
    header = "".join(f"<th>{escape(t.text('servqual', d))}</th>" for d in SERVQUAL_DIMENSIONS)
    lines = []
    ordered = matrix.sort_values(["level1_category", "segment_id"])
    for (segment_id, segment_name), cells in ordered.groupby(
        ["segment_id", "segment_name"], sort=False
    ):
        by_dimension = cells.set_index("dimension")
        tds = []
        for dimension in SERVQUAL_DIMENSIONS:
            if dimension not in by_dimension.index:
                tds.append("<td></td>")
                continue
            cell = by_dimension.loc[dimension]
            gap = (
                t("no_answers")
                if pd.isna(cell["gap"])
                else t("gap_value", gap=f"{cell['gap']:.2f}")
            )
            source = (
                ""
                if cell["gap_source"] == "segment"
                else " <span class='source'>"
                f"({escape(t('source_' + str(cell['gap_source'])))})</span>"
            )
            actions = [a for a in str(cell["actions"]).split(" | ") if a]
            items = "".join(f"<li>{escape(a)}</li>" for a in actions)
            colour = gap_colour(cell["gap"])
            tds.append(
                f"<td style='background:{colour}'><b>#{int(cell['rank'])}</b> {escape(gap)} "
                f"(n={int(cell['n_answers'])}){source}<ul class='actions'>{items}</ul></td>"
            )
        lines.append(
            f"<tr><th>{escape(segment_id)}<br><span class='note'>"
            f"{escape(t.segment_name(segment_name))}</span></th>{''.join(tds)}</tr>"
        )
    return (
        f"<h2>{escape(t('strategy_heading'))}</h2><p class='note'>{escape(t('strategy_note'))}</p>"
        f"<div class='scroll'><table><tr><th>{escape(t('col_segment'))}</th>{header}</tr>"
        f"{''.join(lines)}</table></div>"
    )
