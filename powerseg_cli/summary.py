"""`powerseg summary`, also printed after a successful run: rows per output table of the
warehouse, where the newest report and exports are, and where the stores and UIs are."""

from __future__ import annotations

import argparse
import sys

import duckdb

from powerseg.settings import Settings
from powerseg_cli.instance import command_settings


def output_counts(settings: Settings) -> list[tuple[str, str, int]]:
    """(schema, table, rows) of every output-side table in the warehouse (none without one)."""
    if not settings.warehouse_path.exists():
        return []
    counts = []
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        rows = con.execute(
            """
            select table_schema, table_name from information_schema.tables
            where table_schema in ('marts', 'scores', 'outputs', 'quarantine')
            order by table_schema, table_name
            """
        ).fetchall()
        for schema, table in rows:
            count = con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
            counts.append((schema, table, count))
    return counts


def summary(settings: Settings, counts: list[tuple[str, str, int]] | None = None) -> str:
    lines = [f"data folder: {settings.data_dir}", f"warehouse:   {settings.warehouse_path}"]
    for schema, table, count in output_counts(settings) if counts is None else counts:
        lines.append(f"  {schema}.{table:<40} {count:>12,} rows")
    lines += _newest_outputs(settings)
    lines += [
        f"MLflow store: {settings.mlflow_tracking_uri}",
        "Dagster UI:   make dev    (http://127.0.0.1:3000)",
        "MLflow UI:    make mlflow (http://127.0.0.1:5000)",
    ]
    return "\n".join(lines)


def _newest_outputs(settings: Settings) -> list[str]:
    """Where the newest month's report and exports are, for staff to open."""
    lines = []
    for label, folder, pattern in (
        ("report:", settings.reports_dir, "*.html"),
        ("exports:", settings.exports_dir, "*.csv"),
    ):
        months = sorted(p for p in folder.glob("????-??") if p.is_dir()) if folder.exists() else []
        if months:
            files = sorted(months[-1].glob(pattern))
            where = files[0] if label == "report:" and files else months[-1]
            lines.append(f"{label:<13} {where}")
            portrait = months[-1] / "customer_portrait.csv"
            if label == "exports:" and portrait.is_file():
                lines.append(f"{'portrait:':<13} {portrait}")
    return lines


def cmd_summary(args: argparse.Namespace) -> int:
    settings = command_settings(args.data_dir)
    if not settings.warehouse_path.exists():
        print(
            f"error: no warehouse in {settings.data_dir} ({settings.warehouse_path} does not "
            "exist): nothing has run for this data folder yet; run `powerseg run` first",
            file=sys.stderr,
        )
        return 1
    counts = output_counts(settings)
    print(summary(settings, counts))
    if not counts:
        print(
            f"error: the warehouse {settings.warehouse_path} holds no output tables yet; "
            "run `powerseg run` first",
            file=sys.stderr,
        )
        return 1
    return 0
