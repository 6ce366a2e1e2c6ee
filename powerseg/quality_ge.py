"""Great Expectations 1.x on a DuckDB warehouse: the one workaround GE needs there, the read-only
engine URL, and an ephemeral context with no files, no progress bars and no network.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import great_expectations as gx
import sqlalchemy as sa
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)
from great_expectations.execution_engine import SqlAlchemyExecutionEngine

from powerseg.settings import Settings, duckdb_resource_sql

# Marks our replacement of SqlAlchemyExecutionEngine.execute_query, so installing it twice (every
# validation calls install) wraps the original only once.
_PATCH_MARK = "_powerseg_buffers_duckdb_results"


def original_execute_query():
    """GE's own `execute_query`, whether or not the buffering replacement is installed."""
    current = SqlAlchemyExecutionEngine.execute_query
    if getattr(current, _PATCH_MARK, False):
        return current.__wrapped__
    return current


def install_duckdb_result_buffering() -> None:
    """Make GE read DuckDB query results before it closes the connection (idempotent).

    GE 1.x `execute_query` runs the query inside `with self.get_connection()` and returns the
    cursor result after the block has closed the connection. Most drivers still hand out the
    rows; DuckDB's SQLAlchemy dialects return none, so every metric comes back empty and every
    expectation fails. The replacement buffers the rows while the connection is open and only
    changes behaviour for the duckdb dialect.
    """
    current = SqlAlchemyExecutionEngine.execute_query
    if getattr(current, _PATCH_MARK, False):
        return
    original = current

    @functools.wraps(original)
    def execute_query(self: SqlAlchemyExecutionEngine, query):
        if self.dialect_name != "duckdb":
            return original(self, query)
        with self.get_connection() as connection:
            result = self._execute_query_with_recovery(connection, query)
            # A frozen result owns its rows; calling it gives a fresh Result over them.
            return result.freeze()() if result.returns_rows else result

    setattr(execute_query, _PATCH_MARK, True)
    SqlAlchemyExecutionEngine.execute_query = execute_query


def duckdb_url(path: str | Path, read_only: bool = True) -> str:
    """SQLAlchemy URL for the duckdb-sqlalchemy dialect.

    NullPool: a pooled connection would keep the file open (and locked against writers) after
    validation. Opening is cheap while one connection is held, because DuckDB shares the open
    database between connections of one process (see `warehouse_engine`).
    """
    query = "duckdb_sqlalchemy_pool=null"
    if read_only:
        query += "&access_mode=read_only"
    return f"duckdb:///{Path(path).resolve()}?{query}"


@contextmanager
def warehouse_engine(
    path: str | Path, lock_timeout_seconds: float = 0.0
) -> Iterator[tuple[sa.Engine, sa.Connection]]:
    """A read-only engine on the warehouse and one held connection, both closed on exit.

    Every connection to the file in this process must come from this dialect with the same
    settings: DuckDB refuses a second connection with a different configuration, e.g. a plain
    `duckdb.connect(path)` left open by the caller.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"warehouse {path} does not exist")
    engine = sa.create_engine(duckdb_url(path))
    deadline = time.monotonic() + lock_timeout_seconds
    try:
        while True:
            try:
                anchor = engine.connect()
                break
            except sa.exc.OperationalError as exc:
                # A writer in another process holds the file lock: wait for it like writers do.
                if "lock" not in str(exc).lower() or time.monotonic() >= deadline:
                    raise
                time.sleep(1.0)
        try:
            # Every connection of the engine shares the anchor's database, and its limit.
            for statement in duckdb_resource_sql(Settings.from_env()):
                anchor.exec_driver_sql(statement)
            yield engine, anchor
        finally:
            anchor.close()
    finally:
        engine.dispose()


def ephemeral_context():
    """An in-memory GE context: suites and results live only as long as the validation."""
    install_duckdb_result_buffering()
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        progress_bars=ProgressBarsConfig(globally=False),
        analytics_enabled=False,
    )
    return gx.get_context(mode="ephemeral", project_config=config)
