"""`powerseg simulate`: write a simulated source-system extract into a data folder, clean or with
defects injected on purpose (what was injected is written beside it, row by row)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from powerseg.settings import Settings
from simulator import ForeignFolderError, simulate
from simulator.defects import DEFECTS_JSON, DEFECTS_PARQUET, ROW_KINDS, DefectPlan, read_defects

SIMULATOR_END_MONTH = "2026-10"  # simulator.simulate's default end month


def cmd_simulate(args: argparse.Namespace) -> int:
    try:
        plan = defect_plan(args)
        # --out defaults to the data folder of the settings (POWERSEG_DATA_DIR, else ./data)
        out = Path(args.out).resolve() if args.out else Settings.from_env().data_dir
    except (ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    raw = out / "raw"
    try:
        manifest = simulate(
            out,
            customers=args.customers,
            months=args.months,
            seed=args.seed,
            end_month=args.end_month,
            progress=not args.quiet,
            defects=plan,
        )
    except ForeignFolderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    total = sum(t["rows"] for t in manifest["tables"].values())
    print(
        f"simulated {args.customers:,} customers x {args.months} months "
        f"({manifest['extract_start']} .. {manifest['extract_end']}): {total:,} rows in {raw}"
    )
    if plan is not None and not plan.is_empty:
        print(defects_report(out))
    return 0


def _pairs(values: list[str] | None, option: str) -> list[tuple[str, str]]:
    out = []
    for value in values or []:
        left, sep, right = value.partition("=")
        if not sep or not left or not right:
            raise ValueError(f"{option} expects NAME=VALUE, got {value!r}")
        out.append((left.strip(), right.strip()))
    return out


def _table_column(value: str, option: str) -> tuple[str, str]:
    table, sep, column = value.partition(".")
    if not sep or not table or not column:
        raise ValueError(f"{option} expects TABLE.COLUMN, got {value!r}")
    return table, column


def defect_plan(args: argparse.Namespace) -> DefectPlan | None:
    """The DefectPlan the simulate options describe, or None for a clean extract."""
    rates: dict[str, float] = {}
    if args.defects:
        rates = {kind: args.defects for kind in ROW_KINDS}
    for kind, rate in _pairs(args.defect, "--defect"):
        if kind not in ROW_KINDS:
            raise ValueError(f"--defect: unknown kind {kind!r}; known: {', '.join(ROW_KINDS)}")
        rates[kind] = float(rate)
    drops = tuple(_table_column(v, "--drop-column") for v in args.drop_column or [])
    renames = tuple(
        (*_table_column(old, "--rename-column"), new)
        for old, new in _pairs(args.rename_column, "--rename-column")
    )
    tables = tuple(t.strip() for t in args.defect_tables.split(",")) if args.defect_tables else None
    plan = DefectPlan(
        rates=rates,
        tables=tables,
        drop_columns=drops,
        rename_columns=renames,
        empty_tables=tuple(args.empty_table or ()),
    )
    return None if plan.is_empty else plan


def defects_report(out: Path) -> str:
    summary, _ = read_defects(out)
    lines = [f"injected {summary['injected_rows']:,} defective rows:"]
    for table, kinds in summary["rows_by_table"].items():
        if kinds:
            counts = ", ".join(f"{kind} {n:,}" for kind, n in kinds.items())
            lines.append(f"  {table:<22} {counts}")
    plan = summary["plan"]
    for label, key in (
        ("dropped columns", "drop_columns"),
        ("renamed columns", "rename_columns"),
        ("empty tables", "empty_tables"),
    ):
        if plan[key]:
            lines.append(f"  {label}: {', '.join(plan[key])}")
    lines.append(f"what was injected, row by row: {out / DEFECTS_PARQUET} ({DEFECTS_JSON.name})")
    return "\n".join(lines)
