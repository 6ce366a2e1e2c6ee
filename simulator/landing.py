"""Turns simulated columns into Arrow tables typed by the source contract and lands them as Parquet.

Writes are deterministic (fixed options, no timestamps), and the manifest is written last.
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

from powerseg.contract import MANIFEST_FILE, TABLE_NAMES, TABLES

ARROW_TYPES = {
    "VARCHAR": pa.string(),
    "DOUBLE": pa.float64(),
    "INTEGER": pa.int32(),
    "BOOLEAN": pa.bool_(),
    "DATE": pa.date32(),
    "TIMESTAMP": pa.timestamp("us"),
}
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


class LandingWriter:
    """Writes table parts under raw/<table>/ and, once every table is there, the manifest."""

    def __init__(self, raw_dir: Path):
        self.raw_dir = Path(raw_dir)
        self.raw_dir.mkdir(parents=True, exist_ok=True)
        # Until the new manifest exists the folder is visibly incomplete.
        (self.raw_dir / MANIFEST_FILE).unlink(missing_ok=True)
        self.tables: dict[str, dict[str, Any]] = {}

    def write(self, table: str, part: str, data: pa.Table) -> None:
        if table not in TABLES:
            raise KeyError(f"{table!r} is not a contract table")
        folder = self.raw_dir / table
        if table not in self.tables:
            # A rerun with fewer months must not leave stale month files behind.
            for old in sorted(folder.glob("*.parquet")):
                old.unlink()
            self.tables[table] = {"rows": 0, "files": []}
        write_parquet(data, folder / f"{part}.parquet")
        self.tables[table]["rows"] += data.num_rows
        self.tables[table]["files"].append(f"{table}/{part}.parquet")

    def finish(self, extract_start: int, extract_end: int, seed: int, customers: int) -> dict:
        missing = [t for t in TABLE_NAMES if t not in self.tables]
        if missing:
            raise RuntimeError(f"tables never written: {missing}")
        manifest = {
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
