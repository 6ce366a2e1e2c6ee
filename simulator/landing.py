"""Turns simulated columns into Arrow tables typed by the source contract and lands them as Parquet.

Writes are deterministic (fixed options, no timestamps), the manifest is written last, and only
into a folder that is empty or was written by the simulator.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from powerseg.contract import MANIFEST_FILE, TABLE_NAMES, TABLES, arrow_types

ARROW_TYPES = arrow_types()
# Fixed writer options: the same data always gives the same bytes.
PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    "write_statistics": True,
    "row_group_size": 1 << 20,
}


@dataclass(frozen=True)
class Coded:
    """A column given as integer codes into labels (cheap for ids and categories on big tables)."""

    codes: np.ndarray
    labels: Any  # sequence of strings or a pyarrow string array
    null: np.ndarray | None = None


def format_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """Ids like C0000001: prefix plus zero-padded number (Arrow kernels, fast for millions)."""
    digits = pc.utf8_lpad(
        pc.cast(pa.array(np.asarray(numbers, dtype=np.int64)), pa.string()), width, "0"
    )
    return pc.binary_join_element_wise(prefix, digits, "")


def _array(values: Any, dtype: str) -> pa.Array:
    arrow_type = ARROW_TYPES[dtype]
    null = None
    if isinstance(values, tuple):
        values, null = values
    if isinstance(values, Coded):
        labels = values.labels
        if not isinstance(labels, pa.Array):
            labels = pa.array(np.asarray(labels).astype(str).tolist(), type=pa.string())
        codes = np.where(values.null, 0, values.codes) if values.null is not None else values.codes
        taken = labels.take(pa.array(np.asarray(codes, dtype=np.int64)))
        mask = values.null if values.null is not None else null
        if mask is not None and mask.any():
            taken = pc.if_else(pa.array(mask), pa.nulls(len(taken), taken.type), taken)
        return taken.cast(arrow_type)
    if isinstance(values, pa.Array):
        return values.cast(arrow_type)
    values = np.asarray(values)
    if null is not None and not null.any():
        null = None
    if dtype == "DATE":
        return pa.array(values.astype(np.int32), mask=null).cast(arrow_type)
    if dtype == "TIMESTAMP":
        micros = values.astype(np.int64) * 1_000_000
        return pa.array(micros, mask=null).cast(arrow_type)
    if dtype == "INTEGER":
        return pa.array(values.astype(np.int32), mask=null)
    if dtype == "DOUBLE":
        return pa.array(values.astype(np.float64), mask=null)
    if dtype == "BOOLEAN":
        return pa.array(values.astype(bool), mask=null)
    # Via a list: handing numpy unicode arrays to Arrow drags in its pandas bridge.
    return pa.array(values.astype(str).tolist(), type=pa.string(), mask=null)


def build_table(columns: dict[str, Any], dtypes: dict[str, str]) -> pa.Table:
    if list(columns) != list(dtypes):
        raise ValueError(f"columns {list(columns)} do not match the schema {list(dtypes)}")
    arrays = [_array(columns[name], dtype) for name, dtype in dtypes.items()]
    schema = pa.schema([pa.field(name, ARROW_TYPES[dtype]) for name, dtype in dtypes.items()])
    return pa.Table.from_arrays(arrays, schema=schema)


def contract_dtypes(table: str) -> dict[str, str]:
    return {col.name: col.dtype for col in TABLES[table].columns}


def contract_table(table: str, columns: dict[str, Any]) -> pa.Table:
    """An Arrow table with exactly the contract's columns, in contract order and types."""
    return build_table(columns, contract_dtypes(table))


def write_parquet(data: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(data, path, **PARQUET_OPTIONS)


# Written first into every landing folder the simulator fills, with the files it has written so
# far: the simulator only ever writes into an empty folder or one that holds this marker, and only
# deletes the files the marker lists.
SIMULATOR_MARKER = ".powerseg-simulator.json"
PRODUCER = "simulator"


class ForeignFolderError(RuntimeError):
    """The target folder holds files the simulator did not write; nothing was touched."""


def is_simulated(raw_dir: Path) -> bool:
    """True when the simulator wrote this landing folder (its marker, or its manifest)."""
    raw_dir = Path(raw_dir)
    if (raw_dir / SIMULATOR_MARKER).is_file():
        return True
    try:
        manifest = json.loads((raw_dir / MANIFEST_FILE).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("producer") == PRODUCER


def folder_listing(folder: Path, limit: int = 10) -> str:
    entries = sorted(
        str(p.relative_to(folder)) + ("/" if p.is_dir() else "") for p in folder.rglob("*")
    )
    shown = ", ".join(entries[:limit])
    return shown + (f" ... ({len(entries)} entries)" if len(entries) > limit else "")


def require_simulator_folder(folder: Path, raw_dir: Path) -> None:
    """Raise ForeignFolderError unless `folder` is absent, empty, or belongs to the simulated
    extract in `raw_dir`."""
    folder = Path(folder)
    if not folder.exists():
        return
    if not folder.is_dir():
        raise ForeignFolderError(f"{folder} exists and is not a folder")
    if not any(folder.iterdir()) or is_simulated(raw_dir):
        return
    raise ForeignFolderError(
        f"{folder} already holds files the simulator did not write ({folder_listing(folder)}); "
        "refusing to touch them. Simulate into an empty or new folder (e.g. --out elsewhere), "
        "or move those files away yourself"
    )


def simulation_refused(out_dir: Path) -> str | None:
    """Why `simulate(out_dir)` would refuse to write there, or None when it may (its raw/ and
    truth/ are absent, empty or the simulator's, and raw/ holds no complete foreign extract)."""
    out = Path(out_dir)
    try:
        for folder in (out / "raw", out / "truth"):
            require_simulator_folder(folder, out / "raw")
    except ForeignFolderError as exc:
        return str(exc)
    return None


def demo_refused(raw_dir: Path) -> str | None:
    """Why the demo extract cannot be simulated into the landing folder `raw_dir`, or None when
    it can: the folder must be <data>/raw, and it and <data>/truth empty or the simulator's."""
    raw_dir = Path(raw_dir)
    if raw_dir.name != "raw":
        return f"the simulator writes <data>/raw/, and {raw_dir} is not named 'raw'"
    return simulation_refused(raw_dir.parent)


def _written_before(raw_dir: Path) -> list[str]:
    """Files (relative to raw_dir) an earlier simulation wrote: its marker's, else its
    manifest's."""
    try:
        marker = json.loads((raw_dir / SIMULATOR_MARKER).read_text())
        return [str(f) for f in marker.get("files", [])]
    except (OSError, ValueError):
        pass
    try:
        manifest = json.loads((raw_dir / MANIFEST_FILE).read_text())
    except (OSError, ValueError):
        return []
    return [f for t in manifest.get("tables", {}).values() for f in t.get("files", [])]


class LandingWriter:
    """Writes table parts under raw/<table>/ and, once every table is there, the manifest.

    Refuses a folder that holds anything it did not write; in its own folder it replaces exactly
    the files the previous simulation wrote (a rerun with fewer months leaves no stale month
    files) and leaves anything else alone.
    """

    def __init__(self, raw_dir: Path):
        self.raw_dir = Path(raw_dir)
        require_simulator_folder(self.raw_dir, self.raw_dir)
        self.raw_dir.mkdir(parents=True, exist_ok=True)
        previous = _written_before(self.raw_dir)
        self.tables: dict[str, dict[str, Any]] = {}
        self.files: list[str] = []
        # Until the new manifest exists the folder is visibly incomplete.
        self._mark(pending=previous)
        (self.raw_dir / MANIFEST_FILE).unlink(missing_ok=True)
        for name in previous:
            path = self.raw_dir / name
            if path.suffix == ".parquet" and path.parent.name in TABLES:
                path.unlink(missing_ok=True)
        self._mark()

    def _mark(self, pending: list[str] = ()) -> None:
        marker = {"producer": PRODUCER, "files": sorted({*pending, *self.files})}
        tmp = self.raw_dir / (SIMULATOR_MARKER + ".tmp")
        tmp.write_text(json.dumps(marker, indent=1) + "\n")
        tmp.replace(self.raw_dir / SIMULATOR_MARKER)

    def write(self, table: str, part: str, data: pa.Table) -> None:
        if table not in TABLES:
            raise KeyError(f"{table!r} is not a contract table")
        if table not in self.tables:
            self.tables[table] = {"rows": 0, "files": []}
        name = f"{table}/{part}.parquet"
        # Recorded before the write, so an interrupted run still knows the file is its own.
        self.files.append(name)
        self._mark()
        write_parquet(data, self.raw_dir / name)
        self.tables[table]["rows"] += data.num_rows
        self.tables[table]["files"].append(name)

    def finish(self, extract_start: int, extract_end: int, seed: int, customers: int) -> dict:
        missing = [t for t in TABLE_NAMES if t not in self.tables]
        if missing:
            raise RuntimeError(f"tables never written: {missing}")
        manifest = {
            "producer": PRODUCER,
            "extract_start": str(np.datetime64(extract_start, "D")),
            "extract_end": str(np.datetime64(extract_end, "D")),
            "seed": seed,
            "customers": customers,
            "tables": {t: self.tables[t] for t in TABLE_NAMES},
        }
        tmp = self.raw_dir / (MANIFEST_FILE + ".tmp")
        tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        tmp.replace(self.raw_dir / MANIFEST_FILE)
        return manifest
