"""A gate's result for people: the failed expectations as a Markdown table for the Dagster UI, and
as one line each for the command line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from powerseg.quality.policy import TableResult


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _observed_text(observed: Mapping[str, Any]) -> str:
    if "unexpected_count" in observed:
        return (
            f"{observed['unexpected_count']:,} of {observed['element_count']:,} rows "
            f"({observed['unexpected_percent']:g} %)"
        )
    if list(observed) == ["observed_value"]:
        return str(observed["observed_value"])
    return ", ".join(f"{k}={v}" for k, v in observed.items())


def _sample_text(sample: Sequence[Mapping[str, Any]]) -> str:
    return "<br>".join(", ".join(f"{k}={v}" for k, v in row.items()) for row in sample)


def failures_markdown(result: TableResult) -> str:
    """The failed expectations as a Markdown table, for the Dagster UI."""
    if result.passed:
        return f"All {len(result.expectations)} expectations passed."
    lines = [
        "| expectation | severity | observed | offending rows (sample) | note |",
        "|---|---|---|---|---|",
    ]
    for f in result.failures:
        lines.append(
            f"| `{_cell(f.name)}` | {f.severity} | {_cell(_observed_text(f.observed))} "
            f"| {_cell(_sample_text(f.sample))} | {_cell(f.note)} |"
        )
    return "\n".join(lines)


def failure_lines(table: str, failures: Sequence[Mapping[str, Any]], samples: int = 3) -> list[str]:
    """One line per failed expectation (as `ExpectationOutcome.to_dict()` gives it, e.g. from a
    check's metadata), for the command line: table.column, the expectation, what was observed,
    up to `samples` offending keys, and the note."""
    lines = []
    for f in failures:
        where = f"{table}.{f['column']}" if f.get("column") else table
        observed = _observed_text(f.get("observed") or {})
        keys = "; ".join(
            ", ".join(f"{k}={v}" for k, v in row.items())
            for row in (f.get("sample") or [])[:samples]
        )
        parts = [f"{where}: {f['name']} [{f.get('severity')}]"]
        if observed:
            parts.append(f"observed {observed}")
        if keys:
            parts.append(f"e.g. {keys}")
        if f.get("note"):
            parts.append(str(f["note"]))
        lines.append(" — ".join(parts))
    return lines
