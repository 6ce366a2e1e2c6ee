"""Reading and writing month-keyed tables in the warehouse: a month's rows, the month before it,
and writes that replace exactly their own as-of month (or a derived table whole).

Python assets (scores, segments, labels, actions) keep every month in one table; writes are
delete-then-insert in one transaction so other months, and the previous content on failure, survive.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import duckdb
import pandas as pd

# month and expiry columns of the outputs, stored as DATE
DATE_COLUMNS = ("as_of_month", "previous_as_of_month", "valid_until")


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    schema, name = table.split(".")
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? "
            "and table_name = ?",
            [schema, name],
        ).fetchone()[0]
    )


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    schema, name = table.split(".")
    rows = con.execute(
        "select column_name from information_schema.columns where table_schema = ? "
        "and table_name = ? order by ordinal_position",
        [schema, name],
    ).fetchall()
    return [r[0] for r in rows]


def month_rows(con: duckdb.DuckDBPyConnection, table: str, month: dt.date) -> pd.DataFrame:
    return con.execute(f"select * from {table} where as_of_month = ?", [month]).df()


def previous_month(con: duckdb.DuckDBPyConnection, table: str, month: dt.date) -> dt.date | None:
    """The newest as-of month before `month` in `table` (not the calendar month before: a month
    may be missing), None when there is none."""
    return con.execute(
        f"select max(as_of_month) from {table} where as_of_month < ?", [month]
    ).fetchone()[0]


def previous_month_rows(
    con: duckdb.DuckDBPyConnection, table: str, month: dt.date
) -> pd.DataFrame | None:
    """Rows of the newest month before `month` in `table` (None when there is none)."""
    if not table_exists(con, table):
        return None
    previous = previous_month(con, table, month)
    return None if previous is None else month_rows(con, table, previous)


def with_dates(frame: pd.DataFrame) -> pd.DataFrame:
    """Month and expiry columns as DATE in the warehouse (pandas would write TIMESTAMP); Arrow
    dates, because a million Python date objects take seconds to make and to scan."""
    frame = frame.copy()
    for column in DATE_COLUMNS:
        if column in frame.columns:
            frame[column] = pd.to_datetime(frame[column]).astype("date32[pyarrow]")
    return frame


def _write_frame(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pd.DataFrame,
    write: Callable[[str], None],
) -> int:
    """Run `write(view)` on `frame` registered as `view`, in one transaction, with the table's
    schema created first; roll back on failure."""
    view = "_write_frame"
    con.register(view, frame)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {table.split('.')[0]}")
        write(view)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister(view)
    return len(frame)


def replace_month(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pd.DataFrame,
    as_of_month: dt.date,
    month_column: str = "as_of_month",
) -> int:
    """Replace the rows of `as_of_month` in `schema.table` with `frame`; return rows written."""
    if month_column not in frame.columns:
        raise ValueError(f"{table}: the frame has no {month_column!r} column")
    months = set(pd.to_datetime(frame[month_column]).dt.date.unique())
    if months - {as_of_month}:
        raise ValueError(f"{table}: frame holds months {sorted(months)}, expected {as_of_month}")

    def write(view: str) -> None:
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} AS SELECT * FROM {view} LIMIT 0")
        con.execute(f"DELETE FROM {table} WHERE {month_column} = ?", [as_of_month])
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {view}")

    return _write_frame(con, table, frame, write)


def write_month(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame, month) -> int:
    """Replace `month` of the output table `outputs.<table>`, its dates typed as DATE."""
    return replace_month(con, f"outputs.{table}", with_dates(frame), month)


def replace_month_growing(
    con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame, month: dt.date
) -> int:
    """`replace_month`, adding the columns a new registry row brought (older months read NULL)
    and turning into text a text column an earlier month stored as a number."""
    if table_exists(con, table):
        schema, name = table.split(".")
        existing = dict(
            con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = ? and table_name = ?",
                [schema, name],
            ).fetchall()
        )
        for column in frame.columns:
            if column not in existing:
                con.execute(f'alter table {table} add column "{column}" varchar')
            elif frame[column].dtype == "string" and existing[column] != "VARCHAR":
                con.execute(f'alter table {table} alter "{column}" type varchar')
    return replace_month(con, table, frame, month)


def replace_table(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> int:
    """Replace a derived table whole, in one transaction (points balances: recomputed from every
    month's ledger, so they stay right when an earlier month is re-run)."""
    return _write_frame(
        con,
        table,
        frame,
        lambda view: con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {view}"),
    )


def latest_as_of_month(con: duckdb.DuckDBPyConnection, table: str) -> dt.date:
    value = con.execute(f"SELECT max(as_of_month) FROM {table}").fetchone()[0]
    if value is None:
        raise ValueError(f"{table} is empty: no as-of month to score")
    return value
