"""Loads a landing folder of raw Parquet extracts into the warehouse's `raw` schema.

The manifest is the truth: only the files it lists are loaded, their rows must add up to its
counts, and anything else in a table folder is reported and ignored. The table-level contract
(every table present, every required column present) fails with errors that name the table and
column; row-level problems are left to staging's quarantine.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from powerseg.contract import MANIFEST_FILE, TABLE_NAMES, TABLES
from powerseg.settings import Settings

log = logging.getLogger(__name__)

RAW_SCHEMA = "raw"
# Lineage columns the loader adds to every raw table, so a quarantined row can be traced back.
SOURCE_FILE_COLUMN = "_source_file"
SOURCE_ROW_COLUMN = "_source_row"
# How a producer that writes no manifest finishes its delivery.
MANIFEST_COMMAND = "powerseg manifest"


class LandingError(ValueError):
    """The extract breaks the source contract at table level; nothing was loaded."""


@dataclass(frozen=True)
class LoadedTable:
    table: str
    rows: int
    files: int
    ignored_columns: tuple[str, ...]
    # Parquet files in the table's folder that the manifest does not list: reported, not loaded.
    unlisted_files: tuple[str, ...] = ()
    # Columns delivered as TIMESTAMP WITH TIME ZONE, loaded as the contract's local time.
    converted_columns: tuple[str, ...] = ()

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
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise LandingError(f"manifest {path} is not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict):
        raise LandingError(f"manifest {path} is not a JSON object")
    return manifest


def manifest_extract_id(manifest: dict) -> str:
    """The extract's identity: its declared `extract_id`, else a hash of the manifest's content
    (which lists every file and row count), so the same delivery always gets the same id."""
    declared = manifest.get("extract_id")
    if declared:
        return str(declared)
    canonical = json.dumps(manifest, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def listed_files(raw_dir: Path, manifest: dict, table: str) -> list[Path]:
    """The files of `table` the manifest lists; a table entry without `files` means every
    `<table>/*.parquet` (the contract's default)."""
    entry = (manifest.get("tables") or {}).get(table)
    listed = entry.get("files") if isinstance(entry, dict) else None
    if listed:
        return [Path(raw_dir) / f for f in listed]
    return table_files(raw_dir, table)


@dataclass(frozen=True)
class FolderContents:
    """What a landing folder holds, whatever its state: files per contract table, contract tables
    with no file, and anything else (other folders, loose files)."""

    raw_dir: Path
    tables: Mapping[str, tuple[str, ...]]  # table -> its Parquet files, relative to raw_dir
    missing_tables: tuple[str, ...]
    other: tuple[str, ...]

    @property
    def is_empty(self) -> bool:
        return not self.tables and not self.other

    def lines(self) -> list[str]:
        """Human-readable lines: what is there and what is missing."""
        out = []
        if self.tables:
            present = []
            for table, files in self.tables.items():
                more = f", ... ({len(files)} files)" if len(files) > 3 else ""
                shown = ", ".join(files[:3]) + more
                present.append(f"{table} ({shown})")
            out.append("table files present: " + "; ".join(present))
        if self.missing_tables:
            out.append("contract tables with no file: " + ", ".join(self.missing_tables))
        if self.other:
            shown = ", ".join(self.other[:10]) + (" ..." if len(self.other) > 10 else "")
            out.append(f"other entries: {shown}")
        return out


def folder_contents(raw_dir: Path | str) -> FolderContents:
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        return FolderContents(raw_dir, {}, TABLE_NAMES, ())
    tables = {}
    for table in TABLE_NAMES:
        files = table_files(raw_dir, table)
        if files:
            tables[table] = tuple(str(f.relative_to(raw_dir)) for f in files)
    other = []
    for entry in sorted(raw_dir.iterdir()):
        if entry.name == MANIFEST_FILE:
            continue
        if entry.is_dir() and entry.name in TABLES:
            other += [
                str(f.relative_to(raw_dir))
                for f in sorted(entry.iterdir())
                if f.suffix != ".parquet" or not f.is_file()
            ]
        else:
            other.append(entry.name + ("/" if entry.is_dir() else ""))
    missing = tuple(t for t in TABLE_NAMES if t not in tables)
    return FolderContents(raw_dir, tables, missing, tuple(other))


@dataclass(frozen=True)
class ExtractStatus:
    """Whether a landing folder holds a complete extract, and if not, why not."""

    raw_dir: Path
    manifest: dict | None
    problems: tuple[str, ...] = field(default=())
    # table -> Parquet files in its folder the manifest does not list (ignored by the loader)
    unlisted: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # what to do about the problems, when there is something to say
    hint: str | None = None

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
        text = f"incomplete extract in {self.raw_dir}: " + "; ".join(self.problems)
        return f"{text}. {self.hint}" if self.hint else text

    def report(self) -> str:
        """`describe()` over several lines, for the command line."""
        if self.complete:
            return self.describe()
        lines = [f"no complete extract in the landing folder {self.raw_dir}:"]
        lines += [f"  - {p}" for p in self.problems]
        if self.hint:
            lines.append(self.hint)
        return "\n".join(lines)

    def unlisted_lines(self) -> list[str]:
        return [
            f"raw.{table}: {len(files)} file(s) not listed in {MANIFEST_FILE} ignored: "
            + ", ".join(files)
            for table, files in self.unlisted.items()
        ]


def _shown(path: Path, raw_dir: Path) -> str:
    try:
        return str(path.relative_to(raw_dir))
    except ValueError:
        return str(path)


def _as_date(value) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _no_manifest_status(raw_dir: Path) -> ExtractStatus:
    demo = (
        "Deliver an extract there (POWERSEG_RAW_DIR moves the landing folder), or for the demo "
        "run `powerseg run --demo` (or `powerseg simulate --out DATA` first)"
    )
    if not raw_dir.is_dir():
        return ExtractStatus(
            raw_dir, None, (f"the landing folder {raw_dir} does not exist",), hint=demo
        )
    contents = folder_contents(raw_dir)
    problems = [f"no {MANIFEST_FILE} yet (the producer writes it last)", *contents.lines()]
    if contents.is_empty:
        problems[1:] = ["the folder is empty"]
        hint = demo
    else:
        hint = (
            f"Nothing was loaded and nothing in {raw_dir} was changed. To finish the delivery: "
            f"let the producer write {MANIFEST_FILE} once every table has landed, or, for a "
            f"producer that writes none, run `{MANIFEST_COMMAND} {raw_dir}` when all files are "
            "in place"
        )
    return ExtractStatus(raw_dir, None, tuple(problems), hint=hint)


def extract_status(raw_dir: Path | str, tables: Iterable[str] = TABLE_NAMES) -> ExtractStatus:
    """Check a landing folder against its manifest: every contract table listed, every listed file
    present and readable, and the rows in those files equal to the manifest's counts; files the
    manifest does not list are collected in `unlisted`. Only Parquet footers are read, so this is
    cheap enough for a sensor polling a big extract. `tables` limits the per-table checks."""
    raw_dir = Path(raw_dir)
    try:
        manifest = read_manifest(raw_dir)
    except LandingError as exc:
        return ExtractStatus(raw_dir, None, (str(exc),))
    if manifest is None:
        return _no_manifest_status(raw_dir)
    problems: list[str] = []
    if _as_date(manifest.get("extract_end")) is None:
        problems.append(f"{MANIFEST_FILE} has no valid extract_end (YYYY-MM-DD)")
    listed_tables = manifest.get("tables")
    if not isinstance(listed_tables, dict):
        return ExtractStatus(raw_dir, manifest, (*problems, f"{MANIFEST_FILE} lists no tables"))
    tables = tuple(tables)
    unlisted_tables = [t for t in tables if t not in listed_tables]
    if unlisted_tables:
        problems.append(f"tables not in the manifest: {', '.join(unlisted_tables)}")
    unlisted: dict[str, tuple[str, ...]] = {}
    for table in tables:
        if table not in listed_tables:
            continue
        entry = listed_tables[table] if isinstance(listed_tables[table], dict) else {}
        files = listed_files(raw_dir, manifest, table)
        listed = {f.resolve() for f in files}
        stray = [f for f in table_files(raw_dir, table) if f.resolve() not in listed]
        if stray:
            unlisted[table] = tuple(str(f.relative_to(raw_dir)) for f in stray)
        # listed paths may point outside the folder (absolute, ../): show them as listed
        missing = [_shown(f, raw_dir) for f in files if not f.is_file()]
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
        if not isinstance(expected, int) or isinstance(expected, bool):
            problems.append(f"{table}: the manifest gives no row count (tables.{table}.rows)")
        elif expected != rows:
            problems.append(row_count_problem(table, expected, rows))
    return ExtractStatus(raw_dir, manifest, tuple(problems), unlisted)


def row_count_problem(table: str, expected: int, found: int) -> str:
    return f"{table}: manifest says {expected:,} rows, files hold {found:,}"


def _parquet_scan(files: list[Path]) -> str:
    listed = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
    return (
        f"read_parquet([{listed}], union_by_name = true, filename = true, file_row_number = true)"
    )


def aware_columns(con: duckdb.DuckDBPyConnection, files: list[Path]) -> set[str]:
    """Columns of the files typed TIMESTAMP WITH TIME ZONE."""
    described = con.execute(f"DESCRIBE SELECT * FROM {_parquet_scan(files)}").fetchall()
    return {row[0] for row in described if str(row[1]).upper() == "TIMESTAMP WITH TIME ZONE"}


def inspect_table(con: duckdb.DuckDBPyConnection, files: list[Path], table: str) -> list[str]:
    """Return the column names of the table's files, or raise LandingError naming what is
    missing."""
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
    return columns


@dataclass(frozen=True)
class TablePlan:
    """How one raw table is loaded: the SELECT over its listed files (contract columns, local
    times, lineage) and what load_landing reports about it."""

    table: str
    select_sql: str
    expected_rows: int
    loaded: LoadedTable


def plan_landing(
    raw_dir: Path | str,
    con: duckdb.DuckDBPyConnection,
    tables: tuple[str, ...] = TABLE_NAMES,
    settings: Settings | None = None,
) -> dict[str, TablePlan]:
    """Check the folder against its manifest (`extract_status`, the sensor's check) and every
    table's columns, and plan each table's SELECT; nothing is written. Raises LandingError
    naming the table (and column) when the extract breaks the contract at table level."""
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise LandingError(f"landing folder {raw_dir} does not exist")
    status = extract_status(raw_dir, tables)
    if not status.complete:
        raise LandingError(status.describe())
    manifest = status.manifest
    source_timezone = (settings or Settings.from_env()).source_timezone
    inspected = {}
    for table in tables:
        files = listed_files(raw_dir, manifest, table)
        inspected[table] = (files, inspect_table(con, files, table))
    for line in status.unlisted_lines():
        log.warning(line)

    root = str(raw_dir.resolve()).replace("'", "''") + "/"
    zone = source_timezone.replace("'", "''")
    plans: dict[str, TablePlan] = {}
    for table, (files, columns) in inspected.items():
        contract_cols = [c for c in TABLES[table].column_names if c in columns]
        ignored = tuple(c for c in columns if c not in TABLES[table].column_names)
        aware = sorted(aware_columns(con, files) & set(contract_cols)) if files else []
        select = ", ".join(
            f'timezone(\'{zone}\', "{c}") AS "{c}"' if c in aware else f'"{c}"'
            for c in contract_cols
        )
        select_sql = f"""
                SELECT {select},
                       replace(filename, '{root}', '') AS {SOURCE_FILE_COLUMN},
                       file_row_number + 1 AS {SOURCE_ROW_COLUMN}
                FROM {_parquet_scan(files)}
                """
        expected = manifest["tables"][table]["rows"]
        unlisted = status.unlisted.get(table, ())
        loaded = LoadedTable(table, expected, len(files), ignored, unlisted, tuple(aware))
        plans[table] = TablePlan(table, select_sql, expected, loaded)
    return plans


def check_loaded(plan: TablePlan, rows: int, source_timezone: str) -> LoadedTable:
    """Raise when the rows loaded differ from the manifest's (a file replaced between the check
    and the load); log what the load changed or found."""
    if rows != plan.expected_rows:
        raise LandingError(
            f"raw table '{plan.table}' does not match the manifest: "
            + row_count_problem(plan.table, plan.expected_rows, rows)
        )
    if plan.loaded.converted_columns:
        log.warning(
            "raw table '%s': %s delivered with a time zone, loaded as %s local time",
            plan.table,
            ", ".join(plan.loaded.converted_columns),
            source_timezone,
        )
    if rows == 0:
        log.warning("raw table '%s' is present but empty", plan.table)
    return plan.loaded


def load_landing(
    raw_dir: Path | str,
    con: duckdb.DuckDBPyConnection,
    tables: tuple[str, ...] = TABLE_NAMES,
    settings: Settings | None = None,
) -> dict[str, LoadedTable]:
    """Replace `raw.<table>` for each table with exactly the files the manifest lists, all or
    nothing. Time-zone-aware columns become local time of `settings.source_timezone` (the
    contract's timestamps are the utility's wall-clock time).

    The folder is checked against its manifest first (`extract_status`, the sensor's check), then
    every table's columns, before anything is written; the writes happen in one transaction and
    each table's loaded rows are compared with the manifest's count, so a broken or changed
    extract leaves the previously loaded raw tables exactly as they were.
    """
    settings = settings or Settings.from_env()
    plans = plan_landing(raw_dir, con, tables, settings)
    loaded: dict[str, LoadedTable] = {}
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}")
        for table, plan in plans.items():
            con.execute(f"CREATE OR REPLACE TABLE {RAW_SCHEMA}.{table} AS {plan.select_sql}")
            rows = con.execute(f"SELECT count(*) FROM {RAW_SCHEMA}.{table}").fetchone()[0]
            loaded[table] = check_loaded(plan, rows, settings.source_timezone)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return loaded
