"""Writes `_manifest.json` for a landing folder whose producer writes none (`powerseg manifest`):
the files and row counts found per table and the window the data covers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from powerseg.contract import MANIFEST_FILE, TABLE_NAMES
from powerseg.landing import LandingError, folder_contents, read_manifest

PRODUCER = "powerseg manifest"
# Tables that must have files for a manifest to be written: without them there is no extract.
REQUIRED_TABLES = ("customers", "bills")
# The extract ends on the last day (month) holding at least this share of the busiest day's
# meter reads (month's bills), so a few stray rows dated far ahead do not stretch it.
COVERAGE_SHARE = 0.5


@dataclass(frozen=True)
class Window:
    start: date
    end: date
    derived_from: str


def _scan(files: list[Path]) -> str:
    listed = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
    return f"read_parquet([{listed}], union_by_name = true)"


def _day_counts(con, files: list[Path], column: str, unit: str) -> tuple[date, date] | None:
    """First day and last well-covered day of `column` in `files` (None without dates)."""
    day = f"CAST(date_trunc('{unit}', TRY_CAST(\"{column}\" AS DATE)) AS DATE)"
    try:
        first, last = con.execute(
            f"""
            WITH per AS (
                SELECT {day} AS d, count(*) AS n FROM {_scan(files)} WHERE {day} IS NOT NULL
                GROUP BY 1
            )
            SELECT (SELECT min(d) FROM per),
                   (SELECT max(d) FROM per WHERE n >= ? * (SELECT max(n) FROM per))
            """,
            [COVERAGE_SHARE],
        ).fetchone()
    except duckdb.Error as exc:  # e.g. the column is absent from these files
        raise LandingError(f"cannot read {column} from {files[0].parent.name}: {exc}") from exc
    if first is None or last is None:
        return None
    return first, last


def _month_end(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def derive_window(raw_dir: Path, tables: dict[str, tuple[str, ...]]) -> Window:
    """The window the data covers: from the first meter read or bill month, to the last day
    well covered by meter reads or the end of the last well-covered bill month."""
    starts, ends, sources = [], [], []
    con = duckdb.connect()
    try:
        if "meter_reads_daily" in tables:
            files = [raw_dir / f for f in tables["meter_reads_daily"]]
            found = _day_counts(con, files, "read_date", "day")
            if found:
                starts.append(found[0])
                ends.append(found[1])
                sources.append("meter_reads_daily.read_date")
        if "bills" in tables:
            found = _day_counts(con, [raw_dir / f for f in tables["bills"]], "bill_month", "month")
            if found:
                starts.append(found[0])
                ends.append(_month_end(found[1]))
                sources.append("bills.bill_month")
    finally:
        con.close()
    if not ends:
        raise LandingError(
            f"cannot derive the extract window of {raw_dir}: bills.bill_month and "
            "meter_reads_daily.read_date hold no dates; give --extract-start and --extract-end"
        )
    return Window(min(starts), max(ends), " and ".join(sources))


def build_manifest(
    raw_dir: Path | str, extract_start: date | None = None, extract_end: date | None = None
) -> tuple[dict, Window]:
    """The manifest of what `raw_dir` holds now; LandingError when it cannot be an extract."""
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise LandingError(f"the landing folder {raw_dir} does not exist")
    contents = folder_contents(raw_dir)
    if not contents.tables and (raw_dir / "raw").is_dir():
        raise LandingError(
            f"{raw_dir} holds no table folders; the landing folder is probably {raw_dir / 'raw'}"
        )
    missing = [t for t in contents.missing_tables]
    if missing:
        required = [t for t in missing if t in REQUIRED_TABLES]
        raise LandingError(
            f"{raw_dir} has no Parquet files for contract table(s) {', '.join(missing)}"
            + (f" (at least {', '.join(required)} must have rows)" if required else "")
            + "; deliver every table, an empty Parquet file with the table's columns for a "
            "source system that has none"
        )
    tables: dict[str, dict] = {}
    for table in TABLE_NAMES:
        files = contents.tables[table]
        try:
            rows = sum(pq.read_metadata(raw_dir / f).num_rows for f in files)
        except Exception as exc:  # a file still being copied has no valid footer yet
            raise LandingError(
                f"{table}: a file is unreadable (still being written?): {exc}"
            ) from exc
        tables[table] = {"rows": rows, "files": list(files)}
    for table in REQUIRED_TABLES:
        if tables[table]["rows"] == 0:
            raise LandingError(f"{table} has no rows in {', '.join(tables[table]['files'])}")
    window = Window(extract_start, extract_end, "given") if extract_start and extract_end else None
    if window is None:
        derived = derive_window(raw_dir, contents.tables)
        window = Window(
            extract_start or derived.start,
            extract_end or derived.end,
            derived.derived_from if not (extract_start or extract_end) else "given and data",
        )
    if window.start > window.end:
        raise LandingError(f"extract_start {window.start} is after extract_end {window.end}")
    manifest = {
        "producer": PRODUCER,
        "extract_start": window.start.isoformat(),
        "extract_end": window.end.isoformat(),
        "tables": tables,
    }
    return manifest, window


def write_manifest(
    raw_dir: Path | str,
    force: bool = False,
    extract_start: date | None = None,
    extract_end: date | None = None,
) -> tuple[dict, Window]:
    """Write `raw_dir/_manifest.json` (atomically) for the files there now; an existing manifest
    is kept unless `force`."""
    raw_dir = Path(raw_dir)
    path = raw_dir / MANIFEST_FILE
    if path.exists() and not force:
        try:
            existing = read_manifest(raw_dir)
            who = (existing or {}).get("producer", "its producer")
        except LandingError:
            who = "its producer (it is not valid JSON)"
        raise LandingError(
            f"{path} already exists (written by {who}); not overwriting it (use --force to "
            "replace it with one for the files there now)"
        )
    manifest, window = build_manifest(raw_dir, extract_start, extract_end)
    tmp = raw_dir / (MANIFEST_FILE + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    tmp.replace(path)
    return manifest, window
