"""Defect injection: corrupts a simulated extract on purpose (bad rows, schema drift, empty tables)
so the quality gates and the staging quarantine can be tested against a known answer.

Every injected row is recorded with the file and row the landing loader will give it
(`_source_file`, `_source_row`) and the quarantine reason staging should give it, in
truth/defects.parquet; truth/defects.json summarises the plan and the counts per table and kind.

Row defects change rows where they are (the extract simply arrives with bad values), except in the
tables other tables point at (customers, supply_topology): there a corrupted copy of a row is added
under a fresh account id, so one bad master row does not turn another table's rows into orphans
and the expected quarantine stays exact. Duplicates are always added copies. All of it is
vectorised per table part and reproducible from the seed.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from powerseg.contract import TABLE_NAMES, TABLES, Table

from .landing import write_parquet

DUPLICATES = "duplicates"
NULL_KEYS = "null_keys"
NEGATIVE_KWH = "negative_kwh"
ORPHAN_CUSTOMER_IDS = "orphan_customer_ids"
DATES_OUT_OF_RANGE = "dates_out_of_range"
UNKNOWN_CODES = "unknown_codes"
ROW_KINDS = (
    DUPLICATES,
    NULL_KEYS,
    NEGATIVE_KWH,
    ORPHAN_CUSTOMER_IDS,
    DATES_OUT_OF_RANGE,
    UNKNOWN_CODES,
)
DROPPED_COLUMN = "dropped_column"
RENAMED_COLUMN = "renamed_column"
EMPTY_TABLE = "empty_table"
SCHEMA_KINDS = (DROPPED_COLUMN, RENAMED_COLUMN, EMPTY_TABLE)

# Tables other tables reference: bad rows there are added copies under a fresh id (see above).
REFERENCED_TABLES = frozenset({"customers", "supply_topology"})
KWH_COLUMNS = {"meter_reads_daily": "kwh", "bills": "kwh"}
UNKNOWN_CODE = "zz_unknown"
ORPHAN_PREFIX = "CO"  # account ids the customer master never has (it uses C + 7 digits)
FRESH_PREFIX = "CD"  # fresh account ids for corrupted copies of master rows
# Out-of-range dates fall after the extract end, each on its own day so no two share a key.
FUTURE_OFFSET_DAYS = 31
DEFECTS_JSON = Path("truth") / "defects.json"
DEFECTS_PARQUET = Path("truth") / "defects.parquet"


@dataclass(frozen=True)
class DefectPlan:
    """What to inject. `rates` maps a row kind to the share of each eligible table's rows to
    corrupt (at least one row per table part when the rate is positive); the schema kinds name
    tables and columns explicitly, because each breaks the extract as a whole."""

    rates: Mapping[str, float] = field(default_factory=dict)
    tables: tuple[str, ...] | None = None  # row defects only in these tables (default: all)
    drop_columns: tuple[tuple[str, str], ...] = ()  # (table, column)
    rename_columns: tuple[tuple[str, str, str], ...] = ()  # (table, column, new name)
    empty_tables: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = set(self.rates) - set(ROW_KINDS)
        if unknown:
            raise ValueError(f"unknown defect kind(s) {sorted(unknown)}; known: {ROW_KINDS}")
        for kind, rate in self.rates.items():
            if not 0 <= rate < 0.5:
                raise ValueError(f"defect rate for {kind} must be in [0, 0.5), got {rate}")
        for table in [
            *(self.tables or ()),
            *self.empty_tables,
            *(t for t, _ in self.drop_columns),
            *(t for t, _, _ in self.rename_columns),
        ]:
            if table not in TABLES:
                raise ValueError(f"{table!r} is not a contract table")
        for table, column, *_ in [*self.drop_columns, *self.rename_columns]:
            TABLES[table].column(column)  # raises KeyError naming the table and column

    @classmethod
    def uniform(cls, rate: float, kinds: Iterable[str] = ROW_KINDS, **kwargs: Any) -> DefectPlan:
        return cls(rates={k: rate for k in kinds}, **kwargs)

    @property
    def is_empty(self) -> bool:
        return not (
            any(r > 0 for r in self.rates.values())
            or self.drop_columns
            or self.rename_columns
            or self.empty_tables
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "rates": dict(self.rates),
            "tables": list(self.tables) if self.tables is not None else None,
            "drop_columns": [f"{t}.{c}" for t, c in self.drop_columns],
            "rename_columns": [f"{t}.{c}={n}" for t, c, n in self.rename_columns],
            "empty_tables": list(self.empty_tables),
        }


def eligible(kind: str, table: Table) -> bool:
    """Whether a row defect of `kind` makes sense in `table`."""
    if kind == NEGATIVE_KWH:
        return table.name in KWH_COLUMNS
    if kind == ORPHAN_CUSTOMER_IDS:
        return table.references_customers and "customer_id" in table.column_names
    if kind == DATES_OUT_OF_RANGE:
        return table.time_column is not None
    if kind == UNKNOWN_CODES:
        return any(c.allowed for c in table.columns)
    return True  # duplicates, null keys: every table has a key


def expected_reason(kind: str, table: Table, column: str | None) -> str:
    """The quarantine reason staging gives such a row (one of its ';'-joined reasons)."""
    if kind == DUPLICATES:
        return "exact_duplicate"  # the simulator's copies repeat a row in every column
    if kind == NULL_KEYS:
        return f"null_key:{column}"
    if kind == NEGATIVE_KWH:
        return f"out_of_range:{column}<0"
    if kind == ORPHAN_CUSTOMER_IDS:
        return "orphan:customer_id"
    if kind == DATES_OUT_OF_RANGE:
        return f"date_out_of_window:{column}"
    if kind == UNKNOWN_CODES:
        return f"not_allowed:{column}={UNKNOWN_CODE}"
    raise KeyError(kind)


def _ids(prefix: str, numbers: np.ndarray, width: int = 6) -> pa.Array:
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers.astype(np.int64)), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _set_rows(column: pa.Array, rows: np.ndarray, values: pa.Array) -> pa.Array:
    """`column` with `values` at positions `rows` (vectorised: one mask, one replace)."""
    if len(rows) == 0:
        return column
    mask = np.zeros(len(column), dtype=bool)
    mask[rows] = True
    order = np.argsort(rows)  # replace_with_mask fills masked slots in position order
    return pc.replace_with_mask(column, pa.array(mask), values.take(pa.array(order)))


@dataclass
class _Injected:
    kind: str
    column: str | None
    rows: np.ndarray  # 0-based positions in the corrupted part


class DefectInjector:
    """Applies a plan to the parts of a simulated extract as they are generated.

    `apply(table, part, data)` returns the corrupted Arrow table; `records()` the injected rows.
    """

    def __init__(self, plan: DefectPlan, seed: int, extract_end: dt.date):
        self.plan = plan
        self.rng = np.random.default_rng([seed, 0xDEFEC7])
        self.extract_end = extract_end
        self._counter: dict[str, int] = {}  # per table and kind: keeps injected values unique
        self._records: list[dict[str, Any]] = []

    # --- unique values ------------------------------------------------------------------------

    def _next(self, key: str, n: int) -> np.ndarray:
        start = self._counter.get(key, 0)
        self._counter[key] = start + n
        return np.arange(start, start + n)

    def _future(self, key: str, n: int, dtype: pa.DataType) -> pa.Array:
        days = FUTURE_OFFSET_DAYS + self._next(key, n)
        base = np.datetime64(self.extract_end, "D") + days.astype("timedelta64[D]")
        if pa.types.is_timestamp(dtype):
            return pa.array(base.astype("datetime64[us]") + np.timedelta64(12, "h")).cast(dtype)
        return pa.array(base).cast(dtype)

    # --- the defects --------------------------------------------------------------------------

    def _count(self, kind: str, n: int) -> int:
        rate = self.plan.rates.get(kind, 0.0)
        if rate <= 0 or n == 0:
            return 0
        return max(1, int(round(rate * n)))

    def _corrupt(
        self, table: Table, data: pa.Table, kind: str, rows: np.ndarray
    ) -> tuple[pa.Table, list[_Injected]]:
        """Corrupt `rows` of `data` with `kind`; one injected record per column touched."""
        name, n = table.name, len(rows)
        if kind == NULL_KEYS:
            column = table.key[0]
            values = pa.nulls(n, data.schema.field(column).type)
            return self._replace(data, column, rows, values), [_Injected(kind, column, rows)]
        if kind == NEGATIVE_KWH:
            column = KWH_COLUMNS[name]
            current = data.column(column).take(pa.array(rows)).to_numpy(zero_copy_only=False)
            values = -(np.nan_to_num(np.abs(current.astype(float)), nan=0.0) + 1.0)
            return self._replace(data, column, rows, pa.array(values)), [
                _Injected(kind, column, rows)
            ]
        if kind == ORPHAN_CUSTOMER_IDS:
            values = _ids(ORPHAN_PREFIX, self._next(f"{name}:orphan", n))
            return self._replace(data, "customer_id", rows, values), [
                _Injected(kind, "customer_id", rows)
            ]
        if kind == DATES_OUT_OF_RANGE:
            column = table.time_column
            assert column is not None
            values = self._future(f"{name}:date", n, data.schema.field(column).type)
            return self._replace(data, column, rows, values), [_Injected(kind, column, rows)]
        if kind == UNKNOWN_CODES:
            coded = [c.name for c in table.columns if c.allowed]
            which = self.rng.integers(0, len(coded), n)
            injected = []
            for i, column in enumerate(coded):
                picked = rows[which == i]
                if len(picked):
                    values = pa.array([UNKNOWN_CODE] * len(picked), pa.string())
                    data = self._replace(data, column, picked, values)
                    injected.append(_Injected(kind, column, picked))
            return data, injected
        raise KeyError(kind)

    @staticmethod
    def _replace(data: pa.Table, column: str, rows: np.ndarray, values: pa.Array) -> pa.Table:
        i = data.schema.get_field_index(column)
        values = values.cast(data.schema.field(column).type)
        return data.set_column(i, data.schema.field(i), _set_rows(data.column(i), rows, values))

    def _interleave(self, data: pa.Table, extra: pa.Table) -> tuple[pa.Table, np.ndarray]:
        """`data` with the rows of `extra` at random positions; returns their positions."""
        n, k = data.num_rows, extra.num_rows
        positions = np.sort(self.rng.choice(n + k, size=k, replace=False))
        order = np.empty(n + k, dtype=np.int64)
        is_extra = np.zeros(n + k, dtype=bool)
        is_extra[positions] = True
        order[is_extra] = n + np.arange(k)
        order[~is_extra] = np.arange(n)
        combined = pa.concat_tables([data, extra.cast(data.schema)])
        return combined.take(pa.array(order)), positions

    def apply(self, table_name: str, part: str, data: pa.Table) -> pa.Table:
        table = TABLES[table_name]
        if table_name in self.plan.empty_tables:
            data = data.slice(0, 0)
        chosen = self.plan.tables is None or table_name in self.plan.tables
        n = data.num_rows
        kinds = [k for k in ROW_KINDS if k != DUPLICATES and eligible(k, table)] if chosen else []
        counts = {k: self._count(k, n) for k in kinds}
        injected: list[_Injected] = []

        if table_name in REFERENCED_TABLES:
            # Corrupted copies under fresh ids, so nothing else loses its customer or feeder.
            copies, copy_injected = [], []
            offset = 0
            for kind, k in counts.items():
                if k == 0:
                    continue
                source = self.rng.choice(n, size=k, replace=n < k)
                block = data.take(pa.array(source))
                block = self._replace(
                    block,
                    "customer_id",
                    np.arange(k),
                    _ids(FRESH_PREFIX, self._next(f"{table_name}:fresh", k)),
                )
                block, found = self._corrupt(table, block, kind, np.arange(k))
                copies.append(block)
                copy_injected += [_Injected(i.kind, i.column, i.rows + offset) for i in found]
                offset += k
            if copies:
                data, positions = self._interleave(data, pa.concat_tables(copies))
                injected += [_Injected(i.kind, i.column, positions[i.rows]) for i in copy_injected]
        else:
            # A tiny table cannot hold one row of every kind: the kinds listed first get them.
            remaining = n
            for kind in counts:
                counts[kind] = min(counts[kind], remaining)
                remaining -= counts[kind]
            total = sum(counts.values())
            rows = self.rng.choice(n, size=total, replace=False)
            start = 0
            for kind, k in counts.items():
                if k:
                    data, found = self._corrupt(table, data, kind, rows[start : start + k])
                    injected += found
                    start += k

        clean = np.ones(data.num_rows, dtype=bool)
        for item in injected:
            clean[item.rows] = False
        dup = self._count(DUPLICATES, int(clean.sum())) if chosen else 0
        if dup:
            # Copies of clean rows only: a copy of a corrupted row is rejected, not a duplicate.
            pool = np.flatnonzero(clean)
            source = self.rng.choice(pool, size=dup, replace=len(pool) < dup)
            data, positions = self._interleave(data, data.take(pa.array(source)))
            # The rows corrupted above move down as copies are interleaved before them.
            new_of_old = np.flatnonzero(~np.isin(np.arange(data.num_rows), positions))
            injected = [_Injected(i.kind, i.column, new_of_old[i.rows]) for i in injected]
            injected.append(_Injected(DUPLICATES, None, positions))

        for item in injected:
            rows = np.sort(item.rows)
            self._records.append(
                {
                    "table": np.full(len(rows), table_name, dtype=object),
                    "kind": np.full(len(rows), item.kind, dtype=object),
                    "column": np.full(len(rows), item.column, dtype=object),
                    "source_file": np.full(len(rows), f"{table_name}/{part}.parquet", dtype=object),
                    # the landing loader's 1-based _source_row
                    "source_row": rows.astype(np.int64) + 1,
                    "expected_reason": np.full(
                        len(rows), expected_reason(item.kind, table, item.column), dtype=object
                    ),
                }
            )
        return self._schema_drift(table_name, data)

    def _schema_drift(self, table_name: str, data: pa.Table) -> pa.Table:
        for table, column in self.plan.drop_columns:
            if table == table_name:
                data = data.drop_columns([column])
        for table, column, new in self.plan.rename_columns:
            if table == table_name:
                data = data.rename_columns([new if c == column else c for c in data.column_names])
        return data

    # --- the answer key -----------------------------------------------------------------------

    def records(self) -> pa.Table:
        """One row per injected defect (a row with two corrupted columns appears twice)."""
        names = ["table", "kind", "column", "source_file", "source_row", "expected_reason"]
        return pa.table(
            {
                name: pa.array(
                    np.concatenate([r[name] for r in self._records])
                    if self._records
                    else np.array([], dtype=np.int64 if name == "source_row" else object),
                    pa.int64() if name == "source_row" else pa.string(),
                )
                for name in names
            }
        )

    def summary(self, rows_by_table: Mapping[str, int]) -> dict[str, Any]:
        counts: dict[str, dict[str, int]] = {}
        for r in self._records:
            by_kind = counts.setdefault(str(r["table"][0]), {}) if len(r["table"]) else {}
            if len(r["kind"]):
                kind = str(r["kind"][0])
                by_kind[kind] = by_kind.get(kind, 0) + len(r["kind"])
        return {
            "plan": self.plan.to_dict(),
            "extract_end": self.extract_end.isoformat(),
            "injected_rows": sum(len(r["kind"]) for r in self._records),
            "rows_by_table": {t: counts.get(t, {}) for t in TABLE_NAMES},
            "landed_rows_by_table": dict(rows_by_table),
            "rows_file": str(DEFECTS_PARQUET),
        }

    def write(self, out_dir: Path, rows_by_table: Mapping[str, int]) -> dict[str, Any]:
        summary = self.summary(rows_by_table)
        write_parquet(self.records(), Path(out_dir) / DEFECTS_PARQUET)
        path = Path(out_dir) / DEFECTS_JSON
        path.write_text(json.dumps(summary, indent=2) + "\n")
        return summary


def read_defects(out_dir: str | Path) -> tuple[dict[str, Any], pa.Table]:
    """The summary and the injected rows a simulation with defects wrote."""
    out = Path(out_dir)
    return json.loads((out / DEFECTS_JSON).read_text()), pq.read_table(out / DEFECTS_PARQUET)
