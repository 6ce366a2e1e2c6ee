"""The reference outputs of a 20,000-customer run: what the marts and scores must stay, row by row,
while the pipeline is made faster.

`tests/reference_outputs/` holds the newest as-of month of every table in the `marts` and
`scores` schemas of one `powerseg run` on a simulated extract (REFERENCE_EXTRACT), one Parquet
file per table.
tests/e2e/test_identical_outputs.py runs the pipeline on the same extract and compares. A change
meant to alter results (a new feature, another model) writes the reference again, in the same
commit, with

    .venv/bin/python -m tests.golden --write

so the diff shows that the numbers moved on purpose.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from tests.conftest import landing_env, powerseg_cli, require_success

REFERENCE_DIR = Path(__file__).resolve().parent / "reference_outputs"
REFERENCE_EXTRACT = {"customers": 20_000, "months": 12, "seed": 11}
AS_OF_MONTH = "2026-10"  # the extract's last month
SCHEMAS = ("marts", "scores")
# Doubles agree to this relative difference (DuckDB's parallel sums differ in the last bits from
# run to run); every other column exactly.
RTOL = 1e-9
ATOL = 1e-12  # for values that are zero in one run and 1e-17 in the other
# The one exception: fuzzy c-means iterates to a tolerance, and its memberships move by up to
# ~5e-9 between two runs of the same code (measured at 20k) when its inputs move by DuckDB's
# 1e-16; the score made of them stays within RTOL.
LOOSER = {"scores.contribution_scores": ("membership_", 1e-7)}


def tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "select schema_name || '.' || table_name from duckdb_tables() "
        "where schema_name in ? order by 1",
        [list(SCHEMAS)],
    ).fetchall()
    return [name for (name,) in rows]


def sorted_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows in a fixed order: by every column that is not a double."""
    exact = [c for c in frame.columns if frame[c].dtype.kind != "f"]
    return frame.sort_values(exact, ignore_index=True) if exact else frame


def month_rows(con: duckdb.DuckDBPyConnection, table: str, month: str = AS_OF_MONTH):
    frame = con.execute(
        f"select * from {table} where cast(as_of_month as date) = ?",
        [dt.date.fromisoformat(f"{month}-01")],
    ).df()
    return sorted_rows(frame)


def differences(table: str, expected: pd.DataFrame, found: pd.DataFrame) -> list[str]:
    """What differs between the reference rows of `table` and a run's, naming columns and rows."""
    if list(expected.columns) != list(found.columns):
        return [f"{table}: columns {list(found.columns)}, reference {list(expected.columns)}"]
    if len(expected) != len(found):
        return [f"{table}: {len(found):,} rows, the reference has {len(expected):,}"]
    problems = []
    prefix, looser = LOOSER.get(table, (None, RTOL))
    for column in expected.columns:
        want, got = expected[column], found[column]
        if want.dtype.kind == "f" or got.dtype.kind == "f":
            a = want.to_numpy(dtype="float64", na_value=np.nan)
            b = got.to_numpy(dtype="float64", na_value=np.nan)
            rtol = looser if prefix and column.startswith(prefix) else RTOL
            same = np.isclose(a, b, rtol=rtol, atol=ATOL) | (np.isnan(a) & np.isnan(b))
        else:
            same = (want.astype("object") == got.astype("object")) | (want.isna() & got.isna())
            same = same.to_numpy(dtype=bool)
        if not same.all():
            rows = np.flatnonzero(~same)
            shown = ", ".join(f"row {i}: {want.iloc[i]!r} -> {got.iloc[i]!r}" for i in rows[:3])
            problems.append(f"{table}.{column}: {len(rows):,} rows differ ({shown})")
    return problems


def read_reference() -> dict[str, pd.DataFrame]:
    return {
        path.stem: sorted_rows(pd.read_parquet(path))
        for path in sorted(REFERENCE_DIR.glob("*.parquet"))
    }


def run_pipeline(workdir: Path) -> Path:
    """Simulate the reference extract into `workdir` and run its newest month; the warehouse."""
    from simulator import simulate

    simulate(workdir / "landing", progress=False, **REFERENCE_EXTRACT)
    data = workdir / "data"
    env = landing_env(data, workdir / "landing" / "raw")
    env.pop("MLFLOW_ARTIFACT_ROOT", None)  # the run's own folder, not the caller's store
    require_success(powerseg_cli("run", "--as-of", AS_OF_MONTH, env=env))
    return data / "warehouse.duckdb"


def write_reference(warehouse: Path) -> list[Path]:
    """Replace tests/reference_outputs/ with the newest month of `warehouse`'s marts and scores."""
    REFERENCE_DIR.mkdir(exist_ok=True)
    for old in REFERENCE_DIR.glob("*.parquet"):
        old.unlink()  # files this module wrote: the folder holds nothing else
    written = []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for table in tables(con):
            path = REFERENCE_DIR / f"{table}.parquet"
            month_rows(con, table).to_parquet(
                path, compression="zstd", compression_level=19, index=False
            )
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.golden", description=__doc__)
    parser.add_argument("--write", action="store_true", help="run the pipeline, write the files")
    parser.add_argument("--warehouse", type=Path, help="take the outputs of this warehouse instead")
    args = parser.parse_args(argv)
    if not args.write:
        parser.error("nothing to do: pass --write")
    with tempfile.TemporaryDirectory(prefix="powerseg-golden-") as tmp:
        warehouse = args.warehouse or run_pipeline(Path(tmp))
        for path in write_reference(warehouse):
            print(f"{path.relative_to(REFERENCE_DIR.parent.parent)}: {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
