"""The segment report service staff read: one self-contained HTML file (inline CSS and SVG).

Sizes, −1…+1 factor index bars per segment, migration, label frequencies and the strategy matrix.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ml.labels import label_frequencies
from ml.strategy import SERVQUAL_DIMENSIONS

MAX_VALUES_PER_LABEL = 10  # valued labels such as industry can have many values

CSS = """
body { font-family: -apple-system, 'Segoe UI', 'Noto Sans', 'PingFang SC', sans-serif;
       margin: 24px auto; max-width: 1200px; color: #222; line-height: 1.4; padding: 0 16px; }
h1 { font-size: 1.6em; margin-bottom: 0; } h2 { border-bottom: 2px solid #ddd; margin-top: 2em; }
h3 { margin-bottom: 0.3em; }
.note { color: #666; font-size: 0.9em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 8px 0 16px; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f4f6f8; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 8px; width: 270px; }
.card .id { font-weight: bold; } .card .name { font-size: 0.9em; min-height: 2.6em; }
.scroll { overflow-x: auto; }
.bar { display: inline-block; height: 10px; background: #2e86c1; vertical-align: middle; }
ul.actions { margin: 4px 0 0 0; padding-left: 16px; }
.source { color: #a04000; font-size: 0.8em; }
"""


def render_segment_report(
    segment_profiles: pd.DataFrame,
    *,
    migration: pd.DataFrame | None = None,
    customer_labels: pd.DataFrame | None = None,
    label_registry: pd.DataFrame | None = None,
    strategy_matrix: pd.DataFrame | None = None,
    summary: dict[str, Any] | None = None,
    title: str = "powerseg customer segment report",
) -> str:
    """The whole report as one HTML string with no external references (works offline)."""
    profiles = segment_profiles.sort_values(["level1_category", "segment_id"])
    month = _month_text(profiles)
    sections = [
        f"<h1>{_e(title)}</h1>",
        f"<p class='note'>As-of month {_e(month)} · {int(profiles['size'].sum()):,} customers · "
        f"{len(profiles)} segments in {profiles['level1_category'].nunique()} level-1 "
        "categories.</p>",
        _sizes_section(profiles, summary),
        _index_section(profiles),
    ]
    if migration is not None:
        sections.append(_migration_section(migration, profiles))
    if customer_labels is not None:
        sections.append(_labels_section(customer_labels, label_registry, profiles))
    if strategy_matrix is not None:
        sections.append(_strategy_section(strategy_matrix))
    body = "\n".join(sections)
    return (
        "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        f"<title>{_e(title)} {_e(month)}</title>\n<style>{CSS}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def write_segment_report(path: str | Path, segment_profiles: pd.DataFrame, **kwargs) -> Path:
    """Render the report and write it to `path` (UTF-8); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_segment_report(segment_profiles, **kwargs), encoding="utf-8")
    return path


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _month_text(profiles: pd.DataFrame) -> str:
    if "as_of_month" not in profiles.columns or profiles.empty:
        return "unknown"
    return str(pd.Timestamp(profiles["as_of_month"].iloc[0]).strftime("%Y-%m"))


def _index_columns(profiles: pd.DataFrame) -> list[str]:
    return [c for c in profiles.columns if c.endswith("_index")]


def _share_bar(share: float, width: int = 120) -> str:
    pixels = max(0, min(width, round(float(share) * width)))
    return f"<span class='bar' style='width:{pixels}px'></span> {share:.1%}"


def _sizes_section(profiles: pd.DataFrame, summary: dict[str, Any] | None) -> str:
    parts = ["<h2>Segments and sizes</h2>"]
    categories = (summary or {}).get("categories", {})
    for category, rows in profiles.groupby("level1_category", sort=False):
        info = categories.get(category) or _category_info(rows)
        method = rows["segmentation_method"].iloc[0] if "segmentation_method" in rows else ""
        detail = f"{int(rows['size'].sum()):,} customers · {method}"
        if info.get("silhouette") is not None and np.isfinite(info.get("silhouette", np.nan)):
            detail += f" · k = {info['k']} · silhouette {info['silhouette']:.2f}"
        parts.append(f"<h3>{_e(category)}</h3><p class='note'>{_e(detail)}</p>")
        lines = "".join(
            f"<tr><td>{_e(r.segment_id)}</td><td>{_e(r.segment_name)}</td>"
            f"<td class='num'>{int(r.size):,}</td><td>{_share_bar(r.share)}</td></tr>"
            for r in rows.itertuples(index=False)
        )
        parts.append(
            "<table><tr><th>segment</th><th>name</th><th>customers</th>"
            f"<th>share of category</th></tr>{lines}</table>"
        )
    return "\n".join(parts)


def _category_info(rows: pd.DataFrame) -> dict[str, Any]:
    """k and silhouette from the stored profiles when no segmentation summary is at hand."""
    silhouette = rows["category_silhouette"].iloc[0] if "category_silhouette" in rows else None
    return {"k": len(rows), "silhouette": None if pd.isna(silhouette) else float(silhouette)}


def index_bars_svg(values: list[float], labels: list[str], width: int = 250) -> str:
    """Vertical bars on a −1…+1 axis, red above the population, blue below (inline SVG)."""
    height, top, axis_height = 150, 8, 100
    middle = top + axis_height / 2
    step = (width - 30) / max(len(values), 1)
    shapes = [
        f"<line x1='28' y1='{top}' x2='28' y2='{top + axis_height}' stroke='#999'/>",
        f"<line x1='28' y1='{middle}' x2='{width}' y2='{middle}' stroke='#333'/>",
        f"<text x='24' y='{top + 4}' font-size='9' text-anchor='end'>+1</text>",
        f"<text x='24' y='{middle + 3}' font-size='9' text-anchor='end'>0</text>",
        f"<text x='24' y='{top + axis_height}' font-size='9' text-anchor='end'>−1</text>",
    ]
    for i, (value, label) in enumerate(zip(values, labels, strict=True)):
        value = float(np.clip(value, -1, 1))
        bar = abs(value) * axis_height / 2
        x = 32 + i * step
        y = middle - bar if value >= 0 else middle
        colour = "#c0392b" if value >= 0 else "#2471a3"
        shapes.append(
            f"<rect x='{x:.1f}' y='{y:.1f}' width='{step * 0.7:.1f}' height='{bar:.1f}' "
            f"fill='{colour}'><title>{_e(label)}: {value:+.2f}</title></rect>"
        )
        label_y = top + axis_height + 12
        shapes.append(
            f"<text x='{x + step * 0.35:.1f}' y='{label_y}' font-size='8' text-anchor='end' "
            f"transform='rotate(-35 {x + step * 0.35:.1f} {label_y})'>{_e(label)}</text>"
        )
    return (
        f"<svg width='{width}' height='{height + 10}' role='img' "
        f"aria-label='factor index bars'>{''.join(shapes)}</svg>"
    )


def _index_section(profiles: pd.DataFrame) -> str:
    columns = _index_columns(profiles)
    labels = [c.removesuffix("_index").replace("_", " ") for c in columns]
    cards = []
    for r in profiles.itertuples(index=False):
        row = r._asdict()
        values = [row[c] for c in columns]
        table = "".join(
            f"{label} {value:+.2f}<br>" for label, value in zip(labels, values, strict=True)
        )
        cards.append(
            f"<div class='card'><div class='id'>{_e(r.segment_id)} · {r.share:.0%}</div>"
            f"<div class='name'>{_e(r.segment_name)}</div>"
            f"{index_bars_svg(values, labels)}<div class='note'>{table}</div></div>"
        )
    return (
        "<h2>Factor profile of each segment</h2><p class='note'>Index = (segment mean − "
        "population mean) / (2 × population standard deviation), clipped to −1…+1: +0.5 means one "
        "standard deviation above all customers this month. Higher arrears and inspection scores "
        "mean more risk.</p>"
        f"<div class='cards'>{''.join(cards)}</div>"
    )


def _migration_section(migration: pd.DataFrame, profiles: pd.DataFrame) -> str:
    parts = ["<h2>Migration since the previous month</h2>"]
    if migration.empty:
        parts.append("<p class='note'>No customers present in both months.</p>")
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
        f"<p class='note'>{total:,} customers present in both months; {same / total:.1%} stayed in "
        "the same segment. Rows: last month's segment; columns: this month's. Shading is the share "
        "of the row.</p>"
    )
    row_totals = table.sum(axis=1).replace(0, 1)
    header = "".join(f"<th>{_e(c)}</th>" for c in table.columns)
    lines = []
    for source, counts in table.iterrows():
        cells = []
        for target, count in counts.items():
            alpha = count / row_totals[source]
            cells.append(
                f"<td class='num' style='background: rgba(46,134,193,{alpha:.2f})' "
                f"title='{_e(source)} → {_e(target)}'>{int(count):,}</td>"
            )
        lines.append(f"<tr><th>{_e(source)}</th>{''.join(cells)}</tr>")
    parts.append(
        f"<div class='scroll'><table><tr><th>from \\ to</th>{header}</tr>{''.join(lines)}"
        "</table></div>"
    )
    return "\n".join(parts)


def _labels_section(
    customer_labels: pd.DataFrame, registry: pd.DataFrame | None, profiles: pd.DataFrame
) -> str:
    counts = label_frequencies(customer_labels, registry, n_customers=int(profiles["size"].sum()))
    counts = counts[counts.groupby("label_code").cumcount() < MAX_VALUES_PER_LABEL]
    parts = [
        "<h2>Label frequencies</h2><p class='note'>Share of all customers carrying each label "
        f"(valued labels: the {MAX_VALUES_PER_LABEL} most frequent values).</p>"
    ]
    for dimension, rows in counts.groupby("dimension", sort=False):
        lines = "".join(
            f"<tr><td>{_e(r.name)}</td><td>{_e(r.label_code)}</td>"
            f"<td>{'' if r.value == 'true' else _e(r.value)}</td>"
            f"<td class='num'>{int(r.customers):,}</td><td>{_share_bar(r.share)}</td></tr>"
            for r in rows.itertuples(index=False)
        )
        parts.append(
            f"<h3>{_e(dimension)}</h3><table><tr><th>label</th><th>code</th><th>value</th>"
            f"<th>customers</th><th>share</th></tr>{lines}</table>"
        )
    return "\n".join(parts)


def _strategy_section(matrix: pd.DataFrame) -> str:
    header = "".join(f"<th>{_e(d)}</th>" for d in SERVQUAL_DIMENSIONS)
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
            gap = "no answers" if pd.isna(cell["gap"]) else f"gap {cell['gap']:.2f}"
            source = (
                ""
                if cell["gap_source"] == "segment"
                else f" <span class='source'>({_e(cell['gap_source'])})</span>"
            )
            actions = [a for a in str(cell["actions"]).split(" | ") if a]
            items = "".join(f"<li>{_e(a)}</li>" for a in actions)
            colour = _gap_colour(cell["gap"])
            tds.append(
                f"<td style='background:{colour}'><b>#{int(cell['rank'])}</b> {gap} "
                f"(n={int(cell['n_answers'])}){source}<ul class='actions'>{items}</ul></td>"
            )
        lines.append(
            f"<tr><th>{_e(segment_id)}<br><span class='note'>{_e(segment_name)}</span></th>"
            f"{''.join(tds)}</tr>"
        )
    return (
        "<h2>Service strategy (SERVQUAL)</h2><p class='note'>Gap = mean(expectation − "
        "perception) on the 1-7 scale, rank 1 = the dimension to invest in first. A segment with "
        "too few answers borrows its category's (or the population's) gap, marked in brown.</p>"
        f"<div class='scroll'><table><tr><th>segment</th>{header}</tr>{''.join(lines)}"
        "</table></div>"
    )


def _gap_colour(gap: float) -> str:
    if pd.isna(gap) or gap <= 0:
        return "#ffffff"
    strength = min(float(gap) / 3.0, 1.0)  # a 3-point gap on the 7-point scale is severe
    return f"rgba(231,76,60,{0.08 + 0.35 * strength:.2f})"
