"""Speed does not change results: a `powerseg run` on the 20,000-customer reference extract writes
the marts and scores of tests/reference_outputs/, row by row (doubles to 1e-9 relative)."""

from __future__ import annotations

import duckdb
import pytest

from tests import golden

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    return golden.run_pipeline(tmp_path_factory.mktemp("identical"))


def test_the_reference_covers_every_mart_and_score_table(warehouse):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert golden.tables(con) == sorted(golden.read_reference())


def test_marts_and_scores_equal_the_reference_row_by_row(warehouse):
    reference = golden.read_reference()
    assert len(reference) >= 13  # eight marts, five score tables
    problems = []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for table, expected in reference.items():
            found = golden.month_rows(con, table)
            assert len(expected) > 15_000, table  # the reference month of 20,000 customers
            problems += golden.differences(table, expected, found)
    assert not problems, "\n".join(problems)


def test_a_changed_value_is_named_by_table_column_and_row():
    reference = golden.read_reference()
    expected = reference["scores.arrears_scores"]
    column = next(c for c in expected.columns if expected[c].dtype.kind == "f")
    row = int((expected[column].abs() > 0.01).idxmax())
    found = expected.copy()
    found.loc[row, column] = expected.loc[row, column] * (1 + 1e-7)
    (problem,) = golden.differences("scores.arrears_scores", expected, found)
    assert problem.startswith(f"scores.arrears_scores.{column}: 1 rows differ (row {row}:")
    found.loc[row, column] = expected.loc[row, column] * (1 + 1e-11)  # within the tolerance
    assert golden.differences("scores.arrears_scores", expected, found) == []
