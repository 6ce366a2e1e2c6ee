"""How a service action's reason reads: the rule's template filled in for each customer, and
where the action's SERVQUAL dimension stands in the segment's gaps, in plain words.
"""

from __future__ import annotations

import re
import string

import numpy as np
import pandas as pd

from ml.display import DisplayText
from ml.rules import RuleError

# English ordinals of the gap ranks (the English gap_ranked text; Chinese writes 第N大)
ORDINALS = ("largest", "second-largest", "third-largest", "fourth-largest", "fifth-largest")


def gap_clauses(gaps: pd.DataFrame, display: DisplayText) -> dict[tuple[str, str], str]:
    """Plain words on where a dimension stands in the segment's SERVQUAL gaps, in the display's
    locale (the gap_* texts of the display_text seed)."""
    clauses = {}
    for cell in gaps.itertuples(index=False):
        dimension = display.text("servqual", cell.dimension)
        if pd.isna(cell.gap):
            text = display("gap_no_answers", dimension=dimension)
        elif cell.gap > 0:
            ordinal = ORDINALS[cell.rank - 1] if cell.rank <= len(ORDINALS) else f"#{cell.rank}"
            text = display(
                "gap_ranked", dimension=dimension, rank=cell.rank, ordinal=ordinal, gap=cell.gap
            )
        else:
            text = display("gap_none", dimension=dimension, gap=cell.gap)
        if cell.gap_source in ("category", "population") and pd.notna(cell.gap):
            text += display(f"gap_borrowed_{cell.gap_source}", answers=cell.segment_n_answers)
        clauses[(cell.segment_id, cell.dimension)] = text
    return clauses


def template_fields(template: str) -> set[str]:
    """The columns a reason template quotes (what the rows handed to render_template need)."""
    try:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name}
    except ValueError:
        return set()  # a malformed template: render_template names the rule


def render_template(rows: pd.DataFrame, template: str, owner: str) -> pd.Series:
    """`'{complaints_12m:.0f} complaints'` filled in for every row (vectorised per field)."""
    text = pd.Series("", index=rows.index, dtype=object)
    try:
        pieces = list(string.Formatter().parse(template))
    except ValueError as error:
        raise RuleError(f"strategy rule {owner!r}: bad reason template: {error}") from error
    for literal, field_name, spec, _ in pieces:
        text = text + literal
        if field_name is None:
            continue
        if field_name not in rows.columns:
            raise RuleError(
                f"strategy rule {owner!r}: reason template names unknown column {field_name!r}"
            )
        text = text + _format_values(rows[field_name], spec)
    return text


_WHOLE_NUMBER_SPEC = re.compile(r"^\.0([f%])$")


def _format_values(values: pd.Series, spec: str) -> pd.Series:
    """`format(v, spec)` per value, "n/a" where missing; `.0f` and `.0%` on numbers in numpy."""
    whole = _WHOLE_NUMBER_SPEC.match(spec)
    if whole and pd.api.types.is_numeric_dtype(values.dtype):
        numbers = values.to_numpy(dtype="float64", na_value=np.nan)
        if whole.group(1) == "%":
            numbers = numbers * 100
        missing = np.isnan(numbers)
        # np.round rounds half to even, as format() does (−0.4 reads "0" rather than "-0")
        text = np.round(np.where(missing, 0, numbers)).astype("int64").astype(str).astype(object)
        if whole.group(1) == "%":
            text = text + "%"
        text[missing] = "n/a"
        return pd.Series(text, index=values.index, dtype=object)
    formatted = values.map(lambda v: "n/a" if pd.isna(v) else format(v, spec))
    return formatted.astype(object)
