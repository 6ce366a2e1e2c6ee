"""The `powerseg` command: simulate an extract, run the whole pipeline for a data folder, summarise.

`powerseg run` executes the Dagster job in this process (no daemon needed, fit for cron) and exits
non-zero naming the failed step or check.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

from powerseg_cli.exit_status import EXIT_LOCKED


def _month(value: str) -> str:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
        raise argparse.ArgumentTypeError(f"expected a month as YYYY-MM, got {value!r}")
    return value


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of months >= 1, got {value!r}")
    return number


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {value!r}") from None


def _command(module: str, name: str) -> Callable[[argparse.Namespace], int]:
    """A command whose module is imported only when it runs, so `--help` and `simulate` start
    without loading Dagster and the code location."""

    def command(args: argparse.Namespace) -> int:
        return getattr(importlib.import_module(f"powerseg_cli.{module}"), name)(args)

    return command


def _lock_and_output_options(command: argparse.ArgumentParser, lock_default: str = "") -> None:
    """--wait-for-lock and --verbose, the last options of `run` and `backfill`."""
    command.add_argument(
        "--wait-for-lock",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help=f"when another run is writing the warehouse, wait this long for it{lock_default}",
    )
    command.add_argument(
        "--verbose",
        action="store_true",
        help="show Dagster's events, dbt's output and library warnings (default: one line per "
        "step; the rest goes to <data>/logs/run-<run id>.log)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="powerseg", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    sim = sub.add_parser("simulate", help="write a simulated source-system extract")
    sim.add_argument("--customers", type=int, default=5000)
    sim.add_argument("--months", type=int, default=24)
    sim.add_argument("--seed", type=int, default=42)
    sim.add_argument(
        "--end-month",
        type=_month,
        default="2026-10",
        help="last (complete) month of the extract, YYYY-MM",
    )
    sim.add_argument(
        "--out",
        help="data folder; tables go to OUT/raw/<table>/, hidden traits to OUT/truth/",
    )
    sim.add_argument("--quiet", action="store_true", help="no progress bar")
    bad = sim.add_argument_group(
        "defects", "corrupt the extract on purpose; what was injected goes to OUT/truth/defects.*"
    )
    bad.add_argument(
        "--defects",
        type=float,
        metavar="RATE",
        help="share of rows per table given each kind of row defect (duplicates, null_keys, "
        "negative_kwh, orphan_customer_ids, dates_out_of_range, unknown_codes)",
    )
    bad.add_argument(
        "--defect",
        action="append",
        metavar="KIND=RATE",
        help="rate of one kind of row defect (repeatable; overrides --defects for that kind)",
    )
    bad.add_argument(
        "--defect-tables", metavar="T1,T2", help="inject row defects only in these tables"
    )
    bad.add_argument(
        "--drop-column", action="append", metavar="TABLE.COLUMN", help="deliver without a column"
    )
    bad.add_argument(
        "--rename-column",
        action="append",
        metavar="TABLE.COLUMN=NEW",
        help="deliver a column under another name",
    )
    bad.add_argument(
        "--empty-table", action="append", metavar="TABLE", help="deliver a table with no rows"
    )
    sim.set_defaults(func=_command("simulate", "cmd_simulate"))

    run = sub.add_parser("run", help="materialise every asset for a data folder")
    run.add_argument("--data-dir", help="data folder (default $POWERSEG_DATA_DIR or ./data)")
    run.add_argument("--as-of", type=_month, help="as-of month YYYY-MM (default: last complete)")
    run.add_argument(
        "--source",
        choices=["simulator", "landing"],
        help="who produces the extract (default $POWERSEG_SOURCE, else landing)",
    )
    run.add_argument(
        "--demo",
        action="store_true",
        help="demo mode (--source simulator): when the landing folder is empty, simulate the "
        "demo extract into it first; a folder with any file in it is never touched",
    )
    _lock_and_output_options(run, f" (default: stop at once with exit status {EXIT_LOCKED})")
    run.set_defaults(func=_command("run", "cmd_run"))

    backfill = sub.add_parser(
        "backfill",
        help="materialise a range of as-of months in one run (each as a single-month run would)",
    )
    backfill.add_argument("--data-dir", help="data folder (default $POWERSEG_DATA_DIR or ./data)")
    span = backfill.add_mutually_exclusive_group(required=True)
    span.add_argument("--from", dest="from_month", type=_month, help="first as-of month YYYY-MM")
    span.add_argument(
        "--newest",
        type=_positive,
        metavar="N",
        help="the newest N complete months of the extract (N=2 gives every model a challenger)",
    )
    backfill.add_argument(
        "--to", dest="to_month", type=_month, help="last as-of month YYYY-MM (default: --from)"
    )
    backfill.add_argument(
        "--source",
        choices=["simulator", "landing"],
        help="who produces the extract (default $POWERSEG_SOURCE)",
    )
    _lock_and_output_options(backfill)
    backfill.set_defaults(func=_command("run", "cmd_run"), as_of=None, demo=False)

    man = sub.add_parser(
        "manifest",
        help="write _manifest.json for a landing folder whose producer writes none",
        description="Write DIR/_manifest.json listing every <table>/*.parquet file in DIR with "
        "its row count, and the extract window derived from bills and meter reads. Run it once "
        "every file of the delivery is in place.",
    )
    man.add_argument("dir", metavar="DIR", help="the landing folder (holding <table>/ folders)")
    man.add_argument("--force", action="store_true", help="replace an existing manifest")
    man.add_argument("--extract-start", type=_date, metavar="YYYY-MM-DD", help="first day covered")
    man.add_argument(
        "--extract-end",
        type=_date,
        metavar="YYYY-MM-DD",
        help="last day covered (default: derived from the data)",
    )
    man.set_defaults(func=_command("manifest", "cmd_manifest"))

    prep = sub.add_parser("prepare", help="create the local Dagster instance and parse dbt")
    prep.add_argument("--data-dir")
    prep.set_defaults(func=_command("run", "cmd_prepare"))

    summ = sub.add_parser("summary", help="print rows per output table and where things are")
    summ.add_argument("--data-dir")
    summ.set_defaults(func=_command("summary", "cmd_summary"))
    return parser


def missing_data_dir(args: argparse.Namespace) -> str | None:
    """A `--data-dir` that does not exist is a mistake (a typo, a missing mount), never a new
    folder to fill: only `simulate --out` and a `run --demo` create one."""
    data_dir = getattr(args, "data_dir", None)
    if not data_dir or getattr(args, "demo", False) or Path(data_dir).is_dir():
        return None
    path = Path(data_dir).resolve()
    what = "is not a folder" if path.exists() else "does not exist"
    return (
        f"--data-dir {path} {what}; give an existing data folder (or create it, or write a demo "
        "extract into it with `powerseg simulate --out DIR`)"
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    problem = missing_data_dir(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
