"""HTML building blocks of the segment report: its style sheet, escaping, tables, number and change
cells, share bars and the factor index bars as inline SVG (the page needs no network).
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd

CSS = """
body { font-family: 'Noto Sans CJK SC', 'Noto Sans SC', 'PingFang SC', 'Microsoft YaHei',
       -apple-system, 'Segoe UI', 'Noto Sans', sans-serif;
       margin: 24px auto; max-width: 1200px; color: #222; line-height: 1.45; padding: 0 16px; }
h1 { font-size: 1.6em; margin-bottom: 0; } h2 { border-bottom: 2px solid #ddd; margin-top: 2em; }
h3 { margin-bottom: 0.3em; }
.note { color: #666; font-size: 0.9em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 8px 0 16px; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f4f6f8; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 8px; width: 270px;
        break-inside: avoid; }
.card .id { font-weight: bold; } .card .name { font-size: 0.9em; min-height: 2.6em; }
.scroll { overflow-x: auto; }
.bar { display: inline-block; height: 10px; background: #2e86c1; vertical-align: middle; }
ul.actions { margin: 4px 0 0 0; padding-left: 16px; }
.source { color: #a04000; font-size: 0.8em; }
.alarms { border: 2px solid #c0392b; border-radius: 6px; padding: 4px 12px; background: #fdedec; }
.alarms h2 { color: #c0392b; border-bottom-color: #c0392b; margin-top: 0.5em; }
tr.alarm td, td.alarm { color: #c0392b; font-weight: bold; }
tr.warn td, td.warn { color: #b9770e; }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; }
  .scroll { overflow: visible; }
  h2 { break-after: avoid; } table, .card { break-inside: avoid; }
  .alarms, tr.alarm td { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def escape(value: Any) -> str:
    return html.escape(str(value), quote=True)


def share_bar(share: float, width: int = 120) -> str:
    pixels = max(0, min(width, round(float(share) * width)))
    return f"<span class='bar' style='width:{pixels}px'></span> {share:.1%}"


def number(value, digits: int = 0) -> str:
    if value is None or pd.isna(value):
        return "–"
    return f"{float(value):,.{digits}f}"


def change(now, before) -> str:
    """'+12.3 %' coloured up / down; '–' when there is nothing to compare with."""
    if before is None or now is None or pd.isna(before) or pd.isna(now) or float(before) == 0:
        return "–"
    ratio = float(now) / float(before) - 1
    css = "up" if ratio > 0 else "down" if ratio < 0 else ""
    return f"<span class='{css}'>{ratio:+.1%}</span>"


def html_table(header: list[str], rows: list[str], css: str = "") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    return f"<div class='scroll'><table class='{css}'><tr>{head}</tr>{''.join(rows)}</table></div>"


def kpi_value(value, unit: str) -> str:
    if value is None or pd.isna(value):
        return "–"
    if unit == "share":
        return f"{float(value):.1%}"
    if unit == "CNY":
        return f"{float(value):,.0f}"
    return f"{float(value):,.2f}"


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
            f"fill='{colour}'><title>{escape(label)}: {value:+.2f}</title></rect>"
        )
        label_y = top + axis_height + 12
        shapes.append(
            f"<text x='{x + step * 0.35:.1f}' y='{label_y}' font-size='8' text-anchor='end' "
            f"transform='rotate(-35 {x + step * 0.35:.1f} {label_y})'>{escape(label)}</text>"
        )
    return (
        f"<svg width='{width}' height='{height + 10}' role='img' "
        f"aria-label='factor index bars'>{''.join(shapes)}</svg>"
    )


def gap_colour(gap: float) -> str:
    if pd.isna(gap) or gap <= 0:
        return "#ffffff"
    strength = min(float(gap) / 3.0, 1.0)  # a 3-point gap on the 7-point scale is severe
    return f"rgba(231,76,60,{0.08 + 0.35 * strength:.2f})"
