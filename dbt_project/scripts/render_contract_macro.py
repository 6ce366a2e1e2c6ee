"""Renders powerseg/contract.py into the dbt project: the `contract_tables()` macro that drives
staging and quarantine, and the schema YAML (docs and tests) of every staging and quarantine model.

Run `python dbt_project/scripts/render_contract_macro.py` after changing the contract;
tests/dbt/test_contract_macro.py fails when the committed files drift from it.
"""

from __future__ import annotations

import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT.parent))

from powerseg.contract import TABLES, Column, Table  # noqa: E402

MACRO_PATH = PROJECT / "macros" / "contract" / "contract_tables.sql"
STAGING_YML = PROJECT / "models" / "staging" / "_stg_raw__models.yml"
QUARANTINE_YML = PROJECT / "models" / "quarantine" / "_quarantine__models.yml"

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

_HEADER = "Generated from powerseg/contract.py by dbt_project/scripts/render_contract_macro.py"


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
        f"{{#- {_HEADER};",
        "    do not edit. The per-table column spec staging and quarantine are driven from,",
        "    with the staged column names (`renames`). -#}",
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
            }
            lines.append(f"            {_literal(spec)},")
        lines += ["        ],", "    },"]
    lines += ["}) }}", "{% endmacro %}", ""]
    return "\n".join(lines)


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _staged_name(table: Table, col: Column) -> str:
    return RENAMES.get(table.name, {}).get(col.name, col.name)


def _column_doc(col: Column) -> str:
    parts = [col.description]
    if col.allowed:
        parts.append("Allowed: " + ", ".join(col.allowed) + ".")
    if col.minimum is not None or col.maximum is not None:
        lo = "" if col.minimum is None else f"{col.minimum:g}"
        hi = "" if col.maximum is None else f"{col.maximum:g}"
        parts.append(f"Range: [{lo}, {hi}].")
    return " ".join(parts)


def render_staging_yml() -> str:
    out = [f"# {_HEADER}; do not edit.", "", "version: 2", "", "models:"]
    for table in TABLES.values():
        staged = [c for c in table.columns if not c.pii]
        key = [_staged_name(table, table.column(k)) for k in table.key]
        required = [_staged_name(table, c) for c in staged if not c.nullable]
        out += [
            f"  - name: stg_raw__{table.name}",
            "    description: "
            + _q(
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
            out += [f"      - name: {name}", f"        description: {_q(doc)}"]
            tests = []
            if col.allowed:
                tests.append(
                    "          - accepted_values:\n"
                    "              arguments:\n"
                    f"                values: [{', '.join(_q(v) for v in col.allowed)}]"
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
                + _q(
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
    out = [f"# {_HEADER}; do not edit.", "", "version: 2", "", "models:"]
    for table in TABLES.values():
        out += [
            f"  - name: q_{table.name}",
            "    description: "
            + _q(
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
                "        description: " + _q(f"As loaded, before typing. {_column_doc(col)}"),
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
            + _q(
                "Why the row is not staged: every failed check, ';'-joined - null_key:<col>, "
                "null_value:<col>, unparseable:<col>, not_allowed:<col>=<value>, "
                "out_of_range:<col><min or >max, date_out_of_window:<col>, orphan:<col> - or "
                "exact_duplicate for a copy of a staged row (dropped and counted), or "
                "conflicting_duplicate:<columns> for every row of a key whose rows differ."
            ),
        ]
    return "\n".join(out) + "\n"


OUTPUTS = {
    MACRO_PATH: render_macro,
    STAGING_YML: render_staging_yml,
    QUARANTINE_YML: render_quarantine_yml,
}

if __name__ == "__main__":
    for path, render in OUTPUTS.items():
        path.write_text(render())
        print(f"wrote {path.relative_to(PROJECT.parent)}")
