"""Writing month-keyed outputs to the warehouse: a re-run replaces exactly its own as-of month.

Python assets (scores, segments, labels, actions) keep every month in one table; writes are
delete-then-insert in one transaction so other months, and the previous content on failure, survive.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd


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
    schema = table.split(".")[0]
    con.register("_replace_month_frame", frame)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        con.execute(
            f"CREATE TABLE IF NOT EXISTS {table} AS SELECT * FROM _replace_month_frame LIMIT 0"
        )
        con.execute(f"DELETE FROM {table} WHERE {month_column} = ?", [as_of_month])
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _replace_month_frame")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("_replace_month_frame")
    return len(frame)


def latest_as_of_month(con: duckdb.DuckDBPyConnection, table: str) -> dt.date:
    value = con.execute(f"SELECT max(as_of_month) FROM {table}").fetchone()[0]
    if value is None:
        raise ValueError(f"{table} is empty: no as-of month to score")
    return value
