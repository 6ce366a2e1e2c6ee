"""Guards the one Great Expectations workaround: if GE changes the method it replaces, or fixes
the bug it works around, these tests say so before a gate silently passes or fails everything.
"""

from __future__ import annotations

import inspect
import warnings

import duckdb
import great_expectations as gx
import pytest
import sqlalchemy as sa
from great_expectations.execution_engine import SqlAlchemyExecutionEngine

from powerseg.quality_ge import (
    duckdb_url,
    ephemeral_context,
    install_duckdb_result_buffering,
    original_execute_query,
    warehouse_engine,
)


@pytest.fixture
def small_warehouse(tmp_path):
    path = tmp_path / "small.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA raw")
        con.execute(
            "CREATE TABLE raw.reads AS SELECT range AS id, (range % 10) - 2 AS kwh FROM range(1000)"
        )
    return path


def test_the_wrapped_ge_methods_keep_their_shape():
    original = original_execute_query()
    assert list(inspect.signature(original).parameters) == ["self", "query"]
    recovery = inspect.getattr_static(SqlAlchemyExecutionEngine, "_execute_query_with_recovery")
    assert isinstance(recovery, staticmethod)
    assert list(inspect.signature(recovery.__func__).parameters) == ["connection", "query"]
    assert list(inspect.signature(SqlAlchemyExecutionEngine.get_connection).parameters) == ["self"]
    # The replacement repeats the original's body plus the buffering; a new body needs review.
    body = inspect.getsource(original)
    assert "with self.get_connection() as connection:" in body
    assert "self._execute_query_with_recovery(connection, query)" in body


def test_install_is_idempotent():
    install_duckdb_result_buffering()
    first = SqlAlchemyExecutionEngine.execute_query
    install_duckdb_result_buffering()
    assert SqlAlchemyExecutionEngine.execute_query is first
    assert first is not original_execute_query()
    assert first.__wrapped__ is original_execute_query()


def test_ge_still_loses_duckdb_rows_without_the_workaround(small_warehouse):
    """If this fails, GE reads results before closing the connection: drop the workaround."""
    engine = SqlAlchemyExecutionEngine(connection_string=duckdb_url(small_warehouse))
    try:
        rows = original_execute_query()(engine, sa.text("SELECT count(*) FROM raw.reads"))
        assert rows.fetchall() == []
        install_duckdb_result_buffering()
        assert engine.execute_query(sa.text("SELECT count(*) FROM raw.reads")).fetchall() == [
            (1000,)
        ]
    finally:
        engine.close()


def test_an_expectation_on_duckdb_observes_the_right_values(small_warehouse):
    context = ephemeral_context()
    with warehouse_engine(small_warehouse) as (engine, _conn):
        datasource = context.data_sources.add_sql(
            name="w", connection_string=engine.url.render_as_string(hide_password=False)
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            asset = datasource.add_table_asset(name="reads", table_name="reads", schema_name="raw")
        batch = asset.add_batch_definition_whole_table("all").get_batch()
        try:
            between = batch.validate(
                gx.expectations.ExpectColumnValuesToBeBetween(column="kwh", min_value=0)
            )
            rows = batch.validate(gx.expectations.ExpectTableRowCountToBeBetween(min_value=1))
        finally:
            datasource.get_execution_engine().close()
    assert not between.success
    # kwh is -2 or -1 for 2 of every 10 ids.
    assert between.result["unexpected_count"] == 200
    assert between.result["element_count"] == 1000
    assert rows.success and rows.result["observed_value"] == 1000
    with duckdb.connect(str(small_warehouse)) as writer:  # nothing still holds the file
        writer.execute("DROP TABLE raw.reads")


def test_other_dialects_are_left_alone(tmp_path):
    install_duckdb_result_buffering()
    engine = SqlAlchemyExecutionEngine(connection_string=f"sqlite:///{tmp_path / 'x.db'}")
    try:
        result = engine.execute_query(sa.text("SELECT 7"))
        # GE's own cursor result, not the buffered copy made for DuckDB.
        assert isinstance(result, sa.CursorResult)
        assert result.fetchall() == [(7,)]
    finally:
        engine.close()
