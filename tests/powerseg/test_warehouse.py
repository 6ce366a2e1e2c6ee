import datetime as dt

import duckdb
import pandas as pd
import pytest

from powerseg.warehouse import replace_month

JAN, FEB = dt.date(2026, 1, 1), dt.date(2026, 2, 1)


def frame(month, scores):
    return pd.DataFrame(
        {
            "as_of_month": [month] * len(scores),
            "customer_id": [f"C{i}" for i in range(len(scores))],
            "score": scores,
        }
    )


def test_rerunning_a_month_replaces_only_that_month():
    con = duckdb.connect()
    replace_month(con, "scores.demo", frame(JAN, [1.0, 2.0]), JAN)
    replace_month(con, "scores.demo", frame(FEB, [3.0, 4.0, 5.0]), FEB)
    before_jan = con.execute(
        "select * from scores.demo where as_of_month = ? order by all", [JAN]
    ).fetchall()
    replace_month(con, "scores.demo", frame(FEB, [9.0]), FEB)
    rows = con.execute("select as_of_month, count(*) from scores.demo group by 1 order by 1")
    assert rows.fetchall() == [(JAN, 2), (FEB, 1)]
    assert (
        con.execute(
            "select * from scores.demo where as_of_month = ? order by all", [JAN]
        ).fetchall()
        == before_jan
    )


def test_a_frame_for_another_month_is_refused_and_nothing_changes():
    con = duckdb.connect()
    replace_month(con, "scores.demo", frame(JAN, [1.0]), JAN)
    with pytest.raises(ValueError, match="expected 2026-02-01"):
        replace_month(con, "scores.demo", frame(JAN, [7.0]), FEB)
    assert con.execute("select score from scores.demo").fetchall() == [(1.0,)]
