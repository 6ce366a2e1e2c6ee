"""Service KPIs on a hand-built warehouse (two districts, April 2026, counted by hand): each
value, last month's value, the alarm levels from the kpi_thresholds seed, a district too small
to alarm, the month boundaries, and a bad thresholds seed named row by row."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest

from ml.seeds import SEEDS_DIR, read_rules_csv
from orchestration.assets.kpis import (
    kpi_values,
    service_kpis_frame,
    validate_kpi_thresholds,
)

APRIL, MARCH = dt.date(2026, 4, 1), dt.date(2026, 3, 1)
BIG, SMALL = "甲区", "乙区"  # 200 and 50 customers


def _customers() -> pd.DataFrame:
    ids = [f"K{i:04d}" for i in range(250)]
    district = [BIG] * 200 + [SMALL] * 50
    rows = []
    for month, overdue in ((MARCH, 50), (APRIL, 70)):
        unpaid = np.zeros(250, dtype=int)
        unpaid[:overdue] = 1  # the first `overdue` customers of 甲区
        rows.append(
            pd.DataFrame(
                {
                    "customer_id": ids,
                    "as_of_month": month,
                    "district": district,
                    "unpaid_bills_at_as_of": unpaid,
                    "unpaid_amount_at_as_of_cny": unpaid * 100.5,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def _table(con, name: str, frame: pd.DataFrame) -> None:
    con.register("_frame", frame)
    con.execute(f"create table {name} as select * from _frame")
    con.unregister("_frame")


def _rows(customer_ids, **columns) -> pd.DataFrame:
    return pd.DataFrame({"customer_id": list(customer_ids), **columns})


@pytest.fixture()
def warehouse(tmp_path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    for schema in ("marts", "staging", "outputs"):
        con.execute(f"create schema {schema}")
    customers = _customers()
    big = [f"K{i:04d}" for i in range(200)]
    small = [f"K{i:04d}" for i in range(200, 250)]
    tickets = pd.concat(
        [
            # April, 甲区: 6 complaints, 3 on outages, plus an inquiry that is not one
            _rows(big[:3], ticket_type="complaint", topic="outage"),
            _rows(big[3:6], ticket_type="complaint", topic="billing"),
            _rows(big[6:7], ticket_type="inquiry", topic="outage"),
            # April, 乙区: 5 complaints among 50 customers
            _rows(small[:5], ticket_type="complaint", topic="billing"),
        ]
    )
    tickets["created_at"] = pd.Timestamp("2026-04-10 09:30")
    tickets.iloc[0, tickets.columns.get_loc("created_at")] = pd.Timestamp("2026-04-30 23:59:59")
    boundary = _rows(big[10:12], ticket_type="complaint", topic="outage")
    boundary["created_at"] = [pd.Timestamp("2026-05-01 00:00"), pd.Timestamp("2026-03-31 23:00")]
    _table(con, "staging.stg_raw__work_orders", pd.concat([tickets, boundary]))
    channels = ["app"] * 40 + ["wechat"] * 10 + ["counter"] * 30 + ["phone_95598"] * 20
    interactions = _rows(
        [big[i % 200] for i in range(100)], channel=channels, occurred_at=pd.Timestamp("2026-04-05")
    )
    _table(con, "staging.stg_raw__channel_interactions", interactions)
    inspections = _rows(
        big[:21],
        result=["theft"] + ["normal"] * 20,
        inspected_on=[dt.date(2026, 2, 3)] * 20 + [dt.date(2026, 1, 31)],  # the last one is out
    )
    _table(con, "staging.stg_raw__inspections", inspections)
    surveys = _rows(
        big[:12] + big[:5],
        dimension="reliability",
        expectation=[6] * 12 + [5] * 5,
        perception=[5] * 6 + [4] * 6 + [5] * 5,
        surveyed_on=[dt.date(2026, 4, 20)] * 12 + [dt.date(2026, 3, 20)] * 5,
    )
    _table(con, "staging.stg_raw__satisfaction_surveys", surveys)
    _table(con, "marts.customer_360", customers)
    segments = pd.concat(
        [
            _rows(big + small, as_of_month=MARCH, segment_id="s1"),
            _rows(big + small, as_of_month=APRIL, segment_id=["s2"] * 50 + ["s1"] * 200),
        ]
    )
    _table(con, "outputs.customer_segments", segments)
    yield con
    con.close()


@pytest.fixture(scope="module")
def thresholds() -> pd.DataFrame:
    return read_rules_csv(SEEDS_DIR / "kpi_thresholds.csv")


def test_kpis_counted_by_hand(warehouse, thresholds):
    frame = service_kpis_frame(
        kpi_values(warehouse, APRIL), kpi_values(warehouse, MARCH), thresholds, APRIL
    )
    assert not frame.duplicated(["district", "kpi_code"]).any()
    assert set(frame["district"]) == {BIG, SMALL, "ALL"}
    assert set(frame["kpi_code"]) == set(thresholds["kpi_code"])
    kpi = frame.set_index(["district", "kpi_code"])

    def row(district, code):
        return kpi.loc[(district, code)]

    # 6 complaints (the last second of April counts, 1 May and 31 March do not) per 200
    assert row(BIG, "complaint_rate_per_10k")["value"] == pytest.approx(300.0)
    assert row(BIG, "complaint_rate_per_10k")["alarm"] == "alarm"
    assert row(BIG, "complaint_rate_per_10k")["threshold"] == 250
    assert row(BIG, "outage_complaint_rate_per_10k")["value"] == pytest.approx(150.0)
    # 乙区: 1,000 complaints per 10,000, but 50 customers are too few to alarm on
    assert row(SMALL, "complaint_rate_per_10k")["value"] == pytest.approx(1000.0)
    assert row(SMALL, "complaint_rate_per_10k")["alarm"] == "ok"
    assert row("ALL", "complaint_rate_per_10k")["value"] == pytest.approx(1e4 * 11 / 250)
    # last month: one complaint on 31 March among 200
    assert row(BIG, "complaint_rate_per_10k")["previous_value"] == pytest.approx(50.0)
    # 70 of 200 overdue at the end of April (50 in March), 100.50 CNY each
    assert row(BIG, "arrears_rate")["value"] == pytest.approx(0.35)
    assert row(BIG, "arrears_rate")["alarm"] == "alarm"
    assert row(BIG, "arrears_rate")["previous_value"] == pytest.approx(0.25)
    assert row(BIG, "overdue_amount_cny")["value"] == pytest.approx(70 * 100.5)
    assert row(BIG, "overdue_amount_cny")["alarm"] == "ok"  # no threshold: scales with size
    # 100 interactions: 50 digital (warn at 0.55, alarm at 0.45, lower is worse), 30 counter
    assert row(BIG, "digital_channel_share")["value"] == pytest.approx(0.5)
    assert row(BIG, "digital_channel_share")["alarm"] == "warn"
    assert row(BIG, "counter_share")["value"] == pytest.approx(0.3)
    assert row(BIG, "counter_share")["alarm"] == "warn"
    assert np.isnan(row(SMALL, "digital_channel_share")["value"])  # no interactions
    assert row(SMALL, "digital_channel_share")["alarm"] == "ok"
    # February to April: 1 finding in 20 inspections (the 31 January one is out of the window)
    assert row(BIG, "inspection_hit_rate")["value"] == pytest.approx(0.05)
    assert row(BIG, "inspection_hit_rate")["base"] == 20
    assert row(BIG, "inspection_hit_rate")["alarm"] == "alarm"
    # April's 12 reliability answers: gaps 1 (6 answers) and 2 (6 answers)
    assert row(BIG, "servqual_gap_reliability")["value"] == pytest.approx(1.5)
    assert row(BIG, "servqual_gap_reliability")["previous_value"] == pytest.approx(0.0)
    assert row(BIG, "servqual_gap_reliability")["alarm"] == "alarm"
    assert np.isnan(row(BIG, "servqual_gap_empathy")["value"])
    # 50 of the 200 甲区 customers changed segment since March
    assert row(BIG, "segment_migration_rate")["value"] == pytest.approx(0.25)
    assert row(BIG, "segment_migration_rate")["alarm"] == "warn"
    assert row(SMALL, "segment_migration_rate")["value"] == 0


def test_a_bad_thresholds_seed_names_its_rows(thresholds):
    bad = thresholds.copy()
    bad.loc[bad["kpi_code"] == "arrears_rate", "worse_when"] = "more"
    with pytest.raises(ValueError, match=r"worse_when must be 'higher' or 'lower' for \['arrears"):
        validate_kpi_thresholds(bad)
    bad = thresholds.copy()
    bad.loc[bad["kpi_code"] == "counter_share", "alarm"] = "0.1"
    with pytest.raises(ValueError, match=r"alarm must be beyond warn for \['counter_share'\]"):
        validate_kpi_thresholds(bad)
    bad = thresholds.copy()
    bad.loc[bad["kpi_code"] == "counter_share", "warn"] = "a lot"
    with pytest.raises(ValueError, match=r"warn is not a number for \['counter_share'\]"):
        validate_kpi_thresholds(bad)
    with pytest.raises(ValueError, match="no row for KPI"):
        service_kpis_frame(
            pd.DataFrame(
                {"district": ["ALL"], "kpi_code": ["new_kpi"], "value": [1.0], "base": [1000]}
            ),  # fmt: skip
            pd.DataFrame(columns=["district", "kpi_code", "value"]),
            thresholds,
            APRIL,
        )


def test_a_portrait_label_nobody_carries_yet_stays_text(tmp_path):
    """The first month nobody carries a label (its column is all None), the next month someone
    does: both months are written, the column is text."""
    from orchestration.assets.portrait import as_text_columns
    from powerseg.warehouse import replace_month_growing

    con = duckdb.connect(str(tmp_path / "p.duckdb"))
    con.execute("create schema outputs")
    # as an earlier release left it: the empty label column stored as a number
    con.execute(
        "create table outputs.customer_portrait (as_of_month date, customer_id varchar, "
        "label_inspection_watch integer)"
    )
    for month, carried in ((MARCH, [None, None]), (APRIL, ["是", None])):
        frame = pd.DataFrame(
            {
                "as_of_month": pd.Series([month, month]).astype("date32[pyarrow]"),
                "customer_id": ["K1", "K2"],
                "label_inspection_watch": pd.Series(carried, dtype=object),
            }
        )
        replace_month_growing(con, "outputs.customer_portrait", as_text_columns(frame), month)
    rows = con.execute(
        "select as_of_month, label_inspection_watch from outputs.customer_portrait "
        "order by as_of_month, customer_id"
    ).fetchall()
    assert [r[1] for r in rows] == [None, None, "是", None]
    kind = con.execute(
        "select data_type from information_schema.columns where column_name = "
        "'label_inspection_watch'"
    ).fetchone()[0]
    assert kind == "VARCHAR"
