"""Renders the source contract (powerseg/contract.py) into every file derived from it: the dbt
sources, the contract macro staging and quarantine run on, their schema YAML, and the docs page.

Run `make contract` (`python -m powerseg.contract_docs`) after changing the contract; a test fails
when a committed file is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from powerseg.contract import EARLIEST_EVENT_DATE, MANIFEST_FILE, TABLES, Column, Table

REPO = Path(__file__).resolve().parent.parent
DBT_PROJECT = REPO / "dbt_project"
SOURCES_YML = DBT_PROJECT / "models" / "staging" / "_raw__sources.yml"
MACRO_PATH = DBT_PROJECT / "macros" / "contract" / "contract_tables.sql"
STAGING_YML = DBT_PROJECT / "models" / "staging" / "_stg_raw__models.yml"
QUARANTINE_YML = DBT_PROJECT / "models" / "quarantine" / "_quarantine__models.yml"
CONTRACT_MD = REPO / "docs" / "source_contract.md"

GENERATED = "Generated from powerseg/contract.py by `make contract`"

# Staged names that put the unit in the name (STYLE: units in column names where ambiguous).
RENAMES: dict[str, dict[str, str]] = {
    "bills": {"kwh": "billed_kwh", "amount": "amount_cny"},
    "payments": {"amount": "amount_cny"},
    "inspections": {"penalty_amount": "penalty_amount_cny"},
}
# Big daily tables whose key is (customer, day): their key is tested on the customer-month
# rollup that already reads every row once (tests/assert_one_read_per_customer_day.sql)
# instead of by another pass over tens of millions of staged rows.
DAY_KEYED = {"meter_reads_daily": "int_customer_months_aggregated"}


def _yaml_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _range(col: Column) -> str | None:
    if col.minimum is None and col.maximum is None:
        return None
    lo = "" if col.minimum is None else f"{col.minimum:g}"
    hi = "" if col.maximum is None else f"{col.maximum:g}"
    return f"[{lo}, {hi}]"


def _column_doc(col: Column) -> str:
    """A column's meaning with its rules, as every generated YAML describes it."""
    parts = [col.description]
    if col.allowed:
        parts.append("Allowed: " + ", ".join(col.allowed) + ".")
    if _range(col):
        parts.append(f"Range: {_range(col)}.")
    if col.earliest:
        parts.append(f"Not before {col.earliest.isoformat()}.")
    if col.pii:
        parts.append("PII: hashed or dropped in staging.")
    return " ".join(parts)


def _table_doc(table: Table) -> str:
    return f"{table.description} Grain: {table.grain}. Key: {', '.join(table.key)}."


def render_sources_yml() -> str:
    lines = [
        f"# {GENERATED}; do not edit.\n",
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
        allowed = _range(col) or (", ".join(col.allowed) if col.allowed else "")
        if col.earliest:
            allowed = f"from {col.earliest.isoformat()}"
        meaning = col.description + (" **PII**" if col.pii else "")
        out.append(
            f"| `{col.name}` | {col.dtype} | {'yes' if col.nullable else 'no'} | {meaning} | "
            f"{allowed} |"
        )
    return out + [""]


def render_contract_md() -> str:
    lines = [
        f"<!-- {GENERATED}; do not edit. -->",
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


def _staged_name(table: Table, col: Column) -> str:
    return RENAMES.get(table.name, {}).get(col.name, col.name)


def _literal(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in value.items()) + "}"
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def render_macro() -> str:
    lines = [
        f"{{#- {GENERATED};",
        "    do not edit. The per-table column spec staging and quarantine are driven from,",
        "    with the staged column names (`renames`), and the earliest plausible event date. -#}",
        "{% macro contract_tables() %}",
        "{{ return({",
    ]
    for table in TABLES.values():
        lines += [
            f"    {_literal(table.name)}: {{",
            f"        'key': {_literal(list(table.key))},",
            f"        'time_column': {_literal(table.time_column)},",
            f"        'references_customers': {_literal(table.references_customers)},",
            f"        'renames': {_literal(RENAMES.get(table.name, {}))},",
            "        'columns': [",
        ]
        for col in table.columns:
            spec = {
                "name": col.name,
                "dtype": col.dtype.lower(),
                "nullable": col.nullable,
                "allowed": list(col.allowed) if col.allowed else None,
                "pii": col.pii,
                "minimum": col.minimum,
                "maximum": col.maximum,
                "earliest": col.earliest.isoformat() if col.earliest else None,
            }
            lines.append(f"            {_literal(spec)},")
        lines += ["        ],", "    },"]
    lines += [
        "}) }}",
        "{% endmacro %}",
        "",
        "{% macro contract_earliest_event_date() %}"
        f"{{{{ return({_literal(EARLIEST_EVENT_DATE.isoformat())}) }}}}"
        "{% endmacro %}",
        "",
    ]
    return "\n".join(lines)


def render_staging_yml() -> str:
    out = [f"# {GENERATED}; do not edit.", "", "version: 2", "", "models:"]
    for table in TABLES.values():
        staged = [c for c in table.columns if not c.pii]
        key = [_staged_name(table, table.column(k)) for k in table.key]
        required = [_staged_name(table, c) for c in staged if not c.nullable]
        out += [
            f"  - name: stg_raw__{table.name}",
            "    description: "
            + _yaml_str(
                f"{table.description} Grain: {table.grain}. Typed and normalised from "
                f"raw.{table.name}, one row per key ({', '.join(key)}); rows failing a contract "
                f"check or repeating a key are in quarantine.q_{table.name} instead."
                + (" PII dropped; identity_hash kept." if any(c.pii for c in table.columns) else "")
                + (
                    f" The key is tested on {DAY_KEYED[table.name]}, which counts the rows and"
                    " the distinct days of every customer-month."
                    if table.name in DAY_KEYED
                    else ""
                )
            ),
            "    data_tests:",
        ]
        if table.name not in DAY_KEYED:
            out += [
                "      - unique_combination:",
                "          arguments:",
                f"            columns: [{', '.join(key)}]",
            ]
        out += [
            "      - no_nulls:",
            "          arguments:",
            f"            columns: [{', '.join(required)}]",
            "    columns:",
        ]
        for col in staged:
            name = _staged_name(table, col)
            doc = _column_doc(col)
            if name != col.name:
                doc += f" (raw column `{col.name}`.)"
            if col.allowed:
                doc += " Normalised: trimmed, matched case-insensitively to the allowed spelling."
            out += [f"      - name: {name}", f"        description: {_yaml_str(doc)}"]
            tests = []
            if col.allowed:
                tests.append(
                    "          - accepted_values:\n"
                    "              arguments:\n"
                    f"                values: [{', '.join(_yaml_str(v) for v in col.allowed)}]"
                )
            if name == "customer_id" and table.name != "customers":
                tests.append(
                    "          - references:\n"
                    "              arguments:\n"
                    "                to: ref('stg_raw__customers')\n"
                    "                field: customer_id"
                )
            if tests:
                out.append("        data_tests:")
                out += tests
        if any(c.pii for c in table.columns):
            out += [
                "      - name: identity_hash",
                "        description: "
                + _yaml_str(
                    "sha256 of the PII salt (var pii_salt) and the normalised id_number (letters "
                    "and digits, upper case); null when id_number is missing. The only trace of "
                    "the account holder's identity outside raw."
                ),
            ]
        out += [
            "      - name: _source_file",
            '        description: "Landing file of the row, relative to the landing folder."',
            "      - name: _source_row",
            '        description: "1-based row number of the row in its landing file."',
        ]
    return "\n".join(out) + "\n"


def render_quarantine_yml() -> str:
    out = [f"# {GENERATED}; do not edit.", "", "version: 2", "", "models:"]
    for table in TABLES.values():
        out += [
            f"  - name: q_{table.name}",
            "    description: "
            + _yaml_str(
                f"Rows of raw.{table.name} kept out of staging, as loaded (not cast, PII "
                "removed), with the reason and where they came from."
            ),
            "    data_tests:",
            "      - unique_combination:",
            "          arguments:",
            "            columns: [_source_file, _source_row]",
            "      - no_nulls:",
            "          arguments:",
            "            columns: [_source_file, _source_row, reason]",
            "    columns:",
        ]
        for col in table.columns:
            if col.pii:
                continue
            out += [
                f"      - name: {col.name}",
                "        description: "
                + _yaml_str(f"As loaded, before typing. {_column_doc(col)}"),
            ]
        if any(c.pii for c in table.columns):
            out += [
                "      - name: identity_hash",
                '        description: "Salted sha256 of the normalised id_number (the raw PII '
                'columns never reach quarantine)."',
            ]
        out += [
            "      - name: _source_file",
            '        description: "Landing file the row came from."',
            "      - name: _source_row",
            '        description: "1-based row number in the landing file."',
            "      - name: reason",
            "        description: "
            + _yaml_str(
                "Why the row is not staged: every failed check, ';'-joined - null_key:<col>, "
                "null_value:<col>, unparseable:<col>, not_allowed:<col>=<value>, "
                "out_of_range:<col><min or >max, date_out_of_window:<col>, orphan:<col> - or "
                "exact_duplicate for a copy of a staged row (dropped and counted), or "
                "conflicting_duplicate:<columns> for every row of a key whose rows differ."
            ),
        ]
    return "\n".join(out) + "\n"


def outputs() -> dict[Path, str]:
    """Every generated file and the text it must hold."""
    return {
        SOURCES_YML: render_sources_yml(),
        MACRO_PATH: render_macro(),
        STAGING_YML: render_staging_yml(),
        QUARANTINE_YML: render_quarantine_yml(),
        CONTRACT_MD: render_contract_md(),
    }


def main() -> int:
    for path, text in outputs().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
