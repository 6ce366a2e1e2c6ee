"""Loads a landing folder of raw Parquet extracts into the warehouse's `raw` schema.

Enforces the table-level contract (every table present, every required column present) with
errors that name the table and column; row-level problems are left to staging's quarantine.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from powerseg.contract import MANIFEST_FILE, TABLE_NAMES, TABLES

log = logging.getLogger(__name__)

RAW_SCHEMA = "raw"
# Lineage columns the loader adds to every raw table, so a quarantined row can be traced back.
SOURCE_FILE_COLUMN = "_source_file"
SOURCE_ROW_COLUMN = "_source_row"


class LandingError(ValueError):
    """The extract breaks the source contract at table level; nothing was loaded."""


@dataclass(frozen=True)
class LoadedTable:
    table: str
    rows: int
    files: int
    ignored_columns: tuple[str, ...]

    @property
    def is_empty(self) -> bool:
        return self.rows == 0


def table_files(raw_dir: Path, table: str) -> list[Path]:
    return sorted((Path(raw_dir) / table).glob("*.parquet"))


def read_manifest(raw_dir: Path) -> dict | None:
    path = Path(raw_dir) / MANIFEST_FILE
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise LandingError(f"manifest {path} is not valid JSON: {exc}") from exc


def manifest_extract_id(manifest: dict) -> str:
    """The extract's identity: its declared `extract_id`, else a hash of the manifest's content
    (which lists every file and row count), so the same delivery always gets the same id."""
    declared = manifest.get("extract_id")
    if declared:
        return str(declared)
    canonical = json.dumps(manifest, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ExtractStatus:
    """Whether a landing folder holds a complete extract, and if not, why not."""

    raw_dir: Path
    manifest: dict | None
    problems: tuple[str, ...] = field(default=())

    @property
    def complete(self) -> bool:
        return self.manifest is not None and not self.problems

    @property
    def extract_id(self) -> str | None:
        return manifest_extract_id(self.manifest) if self.manifest is not None else None

    @property
    def extract_end(self) -> date | None:
        return _as_date((self.manifest or {}).get("extract_end"))

    @property
    def last_complete_month(self) -> str | None:
        """'YYYY-MM' of the newest month the extract covers to its last day."""
        end = self.extract_end
        if end is None:
            return None
        if (end + timedelta(days=1)).month == end.month:  # the extract ends inside a month
            end = end.replace(day=1) - timedelta(days=1)
        return end.strftime("%Y-%m")

    def describe(self) -> str:
        if self.complete:
            return (
                f"complete extract {self.extract_id} in {self.raw_dir} "
                f"({self.manifest.get('extract_start')} .. {self.manifest.get('extract_end')})"
            )
        return f"incomplete extract in {self.raw_dir}: " + "; ".join(self.problems)


def _as_date(value) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def extract_status(raw_dir: Path | str) -> ExtractStatus:
    """Check a landing folder against its manifest: every contract table listed, every listed file
    present and readable, and the rows in those files equal to the manifest's counts. Only Parquet
    footers are read, so this is cheap enough for a sensor polling a big extract."""
    raw_dir = Path(raw_dir)
    try:
        manifest = read_manifest(raw_dir)
    except LandingError as exc:
        return ExtractStatus(raw_dir, None, (str(exc),))
    if manifest is None:
        return ExtractStatus(
            raw_dir, None, (f"no {MANIFEST_FILE} yet (the producer writes it last)",)
        )
    problems: list[str] = []
    if _as_date(manifest.get("extract_end")) is None:
        problems.append(f"{MANIFEST_FILE} has no valid extract_end (YYYY-MM-DD)")
    tables = manifest.get("tables")
    if not isinstance(tables, dict):
        return ExtractStatus(raw_dir, manifest, (*problems, f"{MANIFEST_FILE} lists no tables"))
    unlisted = [t for t in TABLE_NAMES if t not in tables]
    if unlisted:
        problems.append(f"tables not in the manifest: {', '.join(unlisted)}")
    for table, entry in tables.items():
        entry = entry if isinstance(entry, dict) else {}
        listed = entry.get("files")
        files = [raw_dir / f for f in listed] if listed else table_files(raw_dir, table)
        missing = [str(f.relative_to(raw_dir)) for f in files if not f.is_file()]
        if missing:
            problems.append(f"{table}: files listed in the manifest are missing: {missing[:5]}")
            continue
        if not files:
            problems.append(f"{table}: no Parquet files under {raw_dir / table}/")
            continue
        try:
            rows = sum(pq.read_metadata(f).num_rows for f in files)
        except Exception as exc:  # a file still being copied has no valid footer yet
            problems.append(f"{table}: a file is unreadable (still being written?): {exc}")
            continue
        expected = entry.get("rows")
        if not isinstance(expected, int):
            problems.append(f"{table}: the manifest gives no row count (tables.{table}.rows)")
        elif expected != rows:
            problems.append(f"{table}: manifest says {expected:,} rows, files hold {rows:,}")
    return ExtractStatus(raw_dir, manifest, tuple(problems))


def _parquet_scan(files: list[Path]) -> str:
    listed = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
    return (
        f"read_parquet([{listed}], union_by_name = true, filename = true, file_row_number = true)"
    )


def inspect_table(
    con: duckdb.DuckDBPyConnection, raw_dir: Path, table: str
) -> tuple[list[Path], list[str]]:
    """Return the table's files and column names, or raise LandingError naming what is missing."""
    files = table_files(raw_dir, table)
    if not files:
        raise LandingError(
            f"raw table '{table}' is missing: no Parquet files under {Path(raw_dir) / table}/"
        )
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {_parquet_scan(files)}").fetchall()
    except duckdb.Error as exc:
        raise LandingError(f"raw table '{table}' could not be read: {exc}") from exc
    columns = [row[0] for row in described if row[0] not in ("filename", "file_row_number")]
    missing = [c for c in TABLES[table].required_columns if c not in columns]
    if missing:
        hints = []
        for name in missing:
            close = difflib.get_close_matches(name, columns, n=1, cutoff=0.6)
            if close:
                hints.append(f"'{close[0]}' looks like a renamed '{name}'")
        hint = f" ({'; '.join(hints)})" if hints else ""
        raise LandingError(
            f"raw table '{table}' is missing required column(s) {', '.join(missing)}{hint}; "
            f"found: {', '.join(columns)}"
        )
    return files, columns


def load_landing(
    raw_dir: Path | str,
    con: duckdb.DuckDBPyConnection,
    tables: tuple[str, ...] = TABLE_NAMES,
) -> dict[str, LoadedTable]:
    """Replace `raw.<table>` for each table from the landing folder, all or nothing.

    Every table is checked before anything is written, and the writes happen in one transaction,
    so a broken extract leaves the previously loaded raw tables exactly as they were.
    """
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise LandingError(f"landing folder {raw_dir} does not exist")
    plans = {t: inspect_table(con, raw_dir, t) for t in tables}

    loaded: dict[str, LoadedTable] = {}
    root = str(raw_dir.resolve()).replace("'", "''") + "/"
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}")
        for table, (files, columns) in plans.items():
            contract_cols = [c for c in TABLES[table].column_names if c in columns]
            ignored = tuple(c for c in columns if c not in TABLES[table].column_names)
            select = ", ".join(f'"{c}"' for c in contract_cols)
            con.execute(
                f"""
                CREATE OR REPLACE TABLE {RAW_SCHEMA}.{table} AS
                SELECT {select},
                       replace(filename, '{root}', '') AS {SOURCE_FILE_COLUMN},
                       file_row_number + 1 AS {SOURCE_ROW_COLUMN}
                FROM {_parquet_scan(files)}
                """
            )
            rows = con.execute(f"SELECT count(*) FROM {RAW_SCHEMA}.{table}").fetchone()[0]
            loaded[table] = LoadedTable(table, rows, len(files), ignored)
            if rows == 0:
                log.warning("raw table '%s' is present but empty", table)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return loaded
