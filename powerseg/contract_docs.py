"""Renders the source contract as dbt source definitions and as a readable Markdown document.

Run `python -m powerseg.contract_docs` after changing `powerseg/contract.py`; a test fails when the
committed files drift from the contract.
"""

from __future__ import annotations

import sys
from pathlib import Path

from powerseg.contract import MANIFEST_FILE, TABLES, Column, Table

REPO = Path(__file__).resolve().parent.parent
SOURCES_YML = REPO / "dbt_project" / "models" / "staging" / "_raw__sources.yml"
CONTRACT_MD = REPO / "docs" / "source_contract.md"

_HEADER = (
    "# Generated from powerseg/contract.py by `python -m powerseg.contract_docs`; do not edit.\n"
)


def _yaml_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _column_doc(col: Column) -> str:
    parts = [col.description]
    if col.allowed:
        parts.append("Allowed: " + ", ".join(col.allowed) + ".")
    if col.minimum is not None or col.maximum is not None:
        lo = "" if col.minimum is None else f"{col.minimum:g}"
        hi = "" if col.maximum is None else f"{col.maximum:g}"
        parts.append(f"Range: [{lo}, {hi}].")
    if col.pii:
        parts.append("PII: hashed or dropped in staging.")
    return " ".join(parts)


def _table_doc(table: Table) -> str:
    return f"{table.description} Grain: {table.grain}. Key: {', '.join(table.key)}."


def render_sources_yml() -> str:
    lines = [
        _HEADER,
        "version: 2",
        "",
        "sources:",
        "  - name: raw",
        "    schema: raw",
        "    description: "
        + _yaml_str(
            "Raw landing tables as loaded from the source-system extract (one Parquet folder "
            "per table). Every table carries _source_file and _source_row lineage columns."
        ),
        "    tables:",
    ]
    for table in TABLES.values():
        lines += [
            f"      - name: {table.name}",
            f"        description: {_yaml_str(_table_doc(table))}",
            "        meta:",
            f"          key: [{', '.join(table.key)}]",
            "        columns:",
        ]
        for col in table.columns:
            lines += [
                f"          - name: {col.name}",
                f"            data_type: {col.dtype.lower()}",
                f"            description: {_yaml_str(_column_doc(col))}",
            ]
    return "\n".join(lines) + "\n"


def _table_md(table: Table) -> list[str]:
    out = [
        f"## `{table.name}`",
        "",
        f"{table.description} Grain: {table.grain}. Key: `{'`, `'.join(table.key)}`.",
        "",
        "| column | type | nullable | meaning | allowed values / range |",
        "|---|---|---|---|---|",
    ]
    for col in table.columns:
        allowed = ", ".join(col.allowed) if col.allowed else ""
        if col.minimum is not None or col.maximum is not None:
            lo = "" if col.minimum is None else f"{col.minimum:g}"
            hi = "" if col.maximum is None else f"{col.maximum:g}"
            allowed = f"[{lo}, {hi}]"
        meaning = col.description + (" **PII**" if col.pii else "")
        out.append(
            f"| `{col.name}` | {col.dtype} | {'yes' if col.nullable else 'no'} | {meaning} | "
            f"{allowed} |"
        )
    return out + [""]


def render_contract_md() -> str:
    lines = [
        "<!-- Generated from powerseg/contract.py by `python -m powerseg.contract_docs`; "
        "do not edit. -->",
        "# Source contract",
        "",
        "The raw landing tables powerseg reads. An extract is a folder with one sub-folder of "
        "Parquet files per table (`<landing>/<table>/*.parquet`) and, written last, a manifest "
        f"`<landing>/{MANIFEST_FILE}` that marks the extract complete (JSON: `extract_start`, "
        "`extract_end`, and per table its row count and files).",
        "",
        "Rules at ingestion:",
        "",
        "- A missing table folder, or a table without a required column, stops the load with an "
        "error naming the table and the column; nothing already loaded is touched.",
        "- Extra columns are ignored. A table that is present but empty loads with a warning.",
        "- Row-level problems (unparseable values, null keys, values outside the allowed set or "
        "range, unknown customer ids, duplicates) send the row to the `quarantine` schema with its "
        "reason and source file; every raw row is either staged or quarantined.",
        "- PII columns (name, id_number, phone, address) never leave staging: staging keeps a "
        "salted hash of the identity and drops the rest.",
        "",
        "## The manifest",
        "",
        f"`{MANIFEST_FILE}` is the completeness marker: the producer writes it after every table "
        "file is in place (write it under a temporary name and rename it, so it never appears "
        "half-written). An extract is complete when the manifest is there, lists every contract "
        "table, and every file it lists is present with, in total per table, the row count it "
        "states. The manifest is the truth at every entry point (`powerseg run`, the landing "
        "sensor, materialising `raw` in the UI): only the files it lists are loaded, a table "
        "whose rows differ from its count stops the load naming the table, the expected and the "
        "found rows, and other Parquet files in a table folder are ignored and reported. The "
        "landing sensor launches a run only for a complete extract, once per extract id. A "
        "folder without a manifest is never loaded and never touched; for a producer that writes "
        "none, `powerseg manifest <landing>` writes one for the files in place.",
        "",
        "```json",
        "{",
        '  "extract_id": "utility-2026-10-r1",',
        '  "extract_start": "2024-11-01",',
        '  "extract_end": "2026-10-31",',
        '  "tables": {',
        '    "customers": {"rows": 5000, "files": ["customers/customers.parquet"]},',
        '    "meter_reads_daily": {"rows": 3650000, "files": ["meter_reads_daily/2024-11.parquet", '
        '"..."]}',
        "  }",
        "}",
        "```",
        "",
        "| field | required | meaning |",
        "|---|---|---|",
        "| `extract_end` | yes | last day covered (YYYY-MM-DD); freshness is measured from it |",
        "| `extract_start` | no | first day covered (YYYY-MM-DD), shown in the UI |",
        "| `tables.<table>.rows` | yes | rows in that table's files, all files together |",
        "| `tables.<table>.files` | no | files relative to the landing folder; default: every "
        "`<table>/*.parquet` |",
        "| `extract_id` | no | the delivery's identity; default: a hash of the manifest's content, "
        "so a re-delivery with other files or counts is a new extract |",
        "| `producer` | no | who wrote the manifest: `simulator` for a simulated extract, "
        "`powerseg manifest` for one written by that command |",
        "| `seed`, `customers` | simulator only | marks a simulated extract (fixed historical "
        "dates: freshness is measured against its own end) |",
        "",
    ]
    for table in TABLES.values():
        lines += _table_md(table)
    return "\n".join(lines)


def outputs() -> dict[Path, str]:
    return {SOURCES_YML: render_sources_yml(), CONTRACT_MD: render_contract_md()}


def main() -> int:
    for path, text in outputs().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
